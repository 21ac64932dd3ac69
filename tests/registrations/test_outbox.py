"""The e-mail outbox: stored with the change, sent once, retried after a refusal."""

import datetime
import smtplib
import time
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import OperationalError, transaction
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registrations import emails, services
from registrations.management.commands.send_queued_email import Pacer
from registrations.models import QueuedEmail
from tests.factories import offerings_by_round

pytestmark = pytest.mark.django_db


class RefusingBackend:
    """A mail server that is down: every send raises."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        raise smtplib.SMTPConnectError(421, "try again later")

    def close(self):
        pass

    def send_messages(self, messages):
        self.open()


def register(event, person_factory, **kwargs):
    first_round, second_round = offerings_by_round(event)
    return services.register_attendee(
        event,
        person=person_factory(**kwargs),
        offering_ids=[first_round[0].pk, second_round[1].pk],
    ).registration


def test_immediate_delivery_sends_after_commit_and_marks_the_row_sent(
    event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        registration = register(event, person_factory)

    [queued] = QueuedEmail.objects.all()
    assert (queued.registration, queued.kind) == (registration, "confirmation")
    assert queued.sent_at is not None and queued.attempts == 1
    [message] = mailoutbox
    assert message.to == [registration.email]
    assert any(name == "uitnodiging.ics" for name, _content, _type in message.attachments)


def test_rolled_back_registration_leaves_no_email(event, person_factory, mailoutbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        register(event, person_factory)
        raise RuntimeError("the request failed after the registration")

    assert not QueuedEmail.objects.exists()
    assert mailoutbox == []


def test_queue_mode_leaves_the_email_to_the_worker(
    event, person_factory, settings, django_capture_on_commit_callbacks, mailoutbox
):
    settings.EMAIL_DELIVERY = "queue"
    with django_capture_on_commit_callbacks(execute=True):
        registration = register(event, person_factory)
    assert mailoutbox == []
    assert QueuedEmail.objects.get().sent_at is None

    out = StringIO()
    call_command("send_queued_email", stdout=out)

    assert [message.to for message in mailoutbox] == [[registration.email]]
    assert QueuedEmail.objects.get().sent_at is not None
    assert "1 e-mails sent, 0 failed." in out.getvalue()

    call_command("send_queued_email", stdout=StringIO())
    assert len(mailoutbox) == 1, "a sent e-mail is never sent again"


def test_worker_sends_in_queue_order_and_renders_the_current_state(
    event, person_factory, settings, mailoutbox
):
    settings.EMAIL_DELIVERY = "queue"
    anna = register(event, person_factory, email="anna@example.nl")
    bram = register(event, person_factory, email="bram@example.nl")
    services.cancel_registration(anna)

    sent, failed = emails.send_queued()

    assert (sent, failed) == (3, 0)
    assert [message.to for message in mailoutbox] == [
        ["anna@example.nl"],
        ["bram@example.nl"],
        ["anna@example.nl"],
    ]
    # Anna's confirmation is rendered when it is sent: she has cancelled by then.
    assert "uitnodiging.ics" not in [name for name, *_rest in mailoutbox[0].attachments]
    assert bram.queued_emails.get().sent_at is not None


def test_refused_email_stays_queued_and_is_retried_later(
    event, person_factory, settings, mailoutbox
):
    settings.EMAIL_DELIVERY = "queue"
    registration = register(event, person_factory)
    settings.EMAIL_BACKEND = "tests.registrations.test_outbox.RefusingBackend"

    assert emails.send_queued() == (0, 1)

    queued = QueuedEmail.objects.get()
    assert queued.sent_at is None and queued.attempts == 1
    assert queued.last_error == "SMTPConnectError"
    assert registration.email not in queued.last_error
    assert queued.retry_after > timezone.now()
    # Not tried again before its pause is over, even when the server is back.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert emails.send_queued() == (0, 0)

    QueuedEmail.objects.update(retry_after=timezone.now() - datetime.timedelta(seconds=1))
    assert emails.send_queued() == (1, 0)
    assert [message.to for message in mail.outbox] == [[registration.email]]


def test_refused_immediate_email_does_not_break_the_registration(
    event, person_factory, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.registrations.test_outbox.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        registration = register(event, person_factory)

    registration.refresh_from_db()
    assert registration.status == "confirmed"
    assert QueuedEmail.objects.get().attempts == 1
    assert QueuedEmail.objects.get().sent_at is None


def test_email_that_failed_too_often_is_reported_and_no_longer_tried(
    event, person_factory, settings, mailoutbox
):
    settings.EMAIL_DELIVERY = "queue"
    register(event, person_factory)
    QueuedEmail.objects.update(attempts=emails.MAX_ATTEMPTS)
    err = StringIO()

    call_command("send_queued_email", stdout=StringIO(), stderr=err)

    assert mailoutbox == []
    assert "1 e-mails failed 10 times" in err.getvalue()


def test_worker_loop_stops_when_the_outbox_is_empty(event, person_factory, settings, mailoutbox):
    settings.EMAIL_DELIVERY = "queue"
    for _ in range(3):
        register(event, person_factory)

    call_command("send_queued_email", "--loop", "--until-empty", "--interval=0", stdout=StringIO())

    assert len(mailoutbox) == 3
    assert not QueuedEmail.objects.filter(sent_at=None).exists()


def test_unknown_kind_is_refused(event, person_factory):
    registration = register(event, person_factory)
    with pytest.raises(ValueError):
        emails.queue(registration.pk, "newsletter")


def test_admin_lists_the_outbox_and_retries(admin_client, event, person_factory, settings):
    settings.EMAIL_DELIVERY = "queue"
    register(event, person_factory)
    QueuedEmail.objects.update(attempts=3, last_error="SMTPConnectError")
    queued = QueuedEmail.objects.get()

    response = admin_client.get("/admin/registrations/queuedemail/")
    assert response.status_code == 200
    assert "SMTPConnectError" in response.content.decode()

    response = admin_client.post(
        "/admin/registrations/queuedemail/",
        {"action": "retry", "_selected_action": [queued.pk]},
    )
    assert response.status_code == 302
    queued.refresh_from_db()
    assert (queued.attempts, queued.retry_after) == (0, None)


def test_database_gone_after_the_commit_leaves_the_email_queued(
    event, person_factory, monkeypatch, django_capture_on_commit_callbacks
):
    """PostgreSQL stopping right after a registration commits: the visitor's request
    still succeeds, and the e-mail waits in the outbox for the cron job."""

    def database_gone(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(emails, "send_queued", database_gone)
    with django_capture_on_commit_callbacks(execute=True):
        registration = register(event, person_factory)

    assert registration.status == "confirmed"
    assert QueuedEmail.objects.get().sent_at is None


def test_failed_query_while_rendering_is_recorded_not_raised(
    event, person_factory, settings, monkeypatch, mailoutbox
):
    settings.EMAIL_DELIVERY = "queue"
    register(event, person_factory)

    def broken(queued, **kwargs):
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(emails, "_queued_message", broken)

    assert emails.send_queued() == (0, 1)
    queued = QueuedEmail.objects.get()
    assert (queued.sent_at, queued.attempts) == (None, 1)
    assert queued.last_error in {"OperationalError", "ProgrammingError"}
    assert mailoutbox == []


def test_worker_reads_the_registrations_of_a_batch_together(
    event, person_factory, settings, mailoutbox
):
    settings.EMAIL_DELIVERY = "queue"
    addresses = [f"deelnemer{number}@example.nl" for number in range(12)]
    for address in addresses:
        register(event, person_factory, email=address)

    with CaptureQueriesContext(db_connection) as queries:
        assert emails.send_queued() == (12, 0)

    registration_reads = [
        query["sql"]
        for query in queries
        if query["sql"].startswith("SELECT") and 'FROM "registrations_registration"' in query["sql"]
    ]
    assert len(registration_reads) == 1
    assert [message.to for message in mailoutbox] == [[address] for address in addresses]
    assert all("Beste Deelnemer" in message.body for message in mailoutbox)


def test_the_queue_query_stays_the_same_size_however_many_emails_went(
    event, person_factory, settings, mailoutbox
):
    """The e-mails sent in a run are not listed in the next query: a queue of thousands
    after a rush would otherwise cost more for every e-mail sent."""
    settings.EMAIL_DELIVERY = "queue"
    for number in range(6):
        register(event, person_factory, email=f"deelnemer{number}@example.nl")

    with CaptureQueriesContext(db_connection) as queries:
        assert emails.send_queued() == (6, 0)

    picks = [
        query["sql"]
        for query in queries
        if 'FROM "registrations_queuedemail"' in query["sql"] and "LIMIT 1" in query["sql"]
    ]
    assert len(picks) == 7  # one per e-mail, and one that finds the queue empty
    assert len({len(sql) for sql in picks}) == 1


def test_an_email_still_waiting_after_it_was_handled_ends_the_run(
    event, person_factory, settings, monkeypatch
):
    """Should a failure ever leave an e-mail as it was, the run stops instead of trying it
    again and again; the next run (a second later for the worker) takes it up."""
    settings.EMAIL_DELIVERY = "queue"
    register(event, person_factory)

    def note_nothing(queued, error):
        queued.last_error = type(error).__name__

    monkeypatch.setattr(emails, "_note_failure", note_nothing)
    monkeypatch.setattr(emails, "_queued_message", lambda *args, **kwargs: 1 / 0)

    assert emails.send_queued() == (0, 1)
    assert QueuedEmail.objects.get().sent_at is None


class Sleeps(list):
    """Records the pauses a Pacer asks for instead of taking them."""

    def __call__(self, seconds):
        self.append(seconds)


def test_worker_pauses_while_emails_are_being_queued(event, person_factory, settings):
    settings.EMAIL_DELIVERY = "queue"
    register(event, person_factory)  # queued just now, not sent: a rush may be on
    sleeps = Sleeps()
    pace = Pacer(0.2, sleep=sleeps)

    pace(0.010)

    # 10 ms of work at a share of 0.2: 40 ms of rest.
    assert sleeps == [pytest.approx(0.040)]


def test_worker_runs_at_full_speed_when_nothing_new_is_waiting(event, person_factory, settings):
    settings.EMAIL_DELIVERY = "queue"
    first, second = register(event, person_factory), register(event, person_factory)
    # One e-mail sent, the other queued two seconds ago: no rush going on.
    first.queued_emails.update(sent_at=timezone.now())
    second.queued_emails.update(created_at=timezone.now() - datetime.timedelta(seconds=2))
    sleeps = Sleeps()

    Pacer(0.2, sleep=sleeps)(0.010)

    assert sleeps == []


def test_worker_looks_at_the_queue_at_most_twice_a_second(
    event, person_factory, settings, django_assert_num_queries
):
    settings.EMAIL_DELIVERY = "queue"
    register(event, person_factory)
    sleeps = Sleeps()
    pace = Pacer(0.5, sleep=sleeps)

    with django_assert_num_queries(1):
        for _ in range(20):
            pace(0.001)

    assert sleeps == [pytest.approx(0.001)] * 20


def test_paced_worker_sends_everything_and_paces_each_email(
    event, person_factory, settings, mailoutbox
):
    settings.EMAIL_DELIVERY = "queue"
    for _ in range(3):
        register(event, person_factory)
    sleeps, took = Sleeps(), []
    pacer = Pacer(0.25, sleep=sleeps)

    def pace(seconds):
        took.append(seconds)
        pacer(seconds)

    sent, failed = emails.send_queued(pace=pace)

    assert (sent, failed) == (3, 0)
    assert len(mailoutbox) == 3
    # Each e-mail was followed by three times the time it took.
    assert len(took) == 3 and all(seconds > 0 for seconds in took)
    assert sleeps == [pytest.approx(3 * seconds) for seconds in took]


@pytest.mark.parametrize("share", ["0", "-0.5", "1.5"])
def test_worker_refuses_a_share_outside_zero_to_one(share):
    with pytest.raises(CommandError, match="--busy-share"):
        call_command("send_queued_email", f"--busy-share={share}")


def test_worker_stops_after_the_email_in_hand(event, person_factory, settings, mailoutbox):
    settings.EMAIL_DELIVERY = "queue"
    for _ in range(3):
        register(event, person_factory)

    # As when TERM arrives while the first e-mail is being sent.
    sent, failed = emails.send_queued(stop=lambda: len(mailoutbox) >= 1)

    assert (sent, failed) == (1, 0)
    assert QueuedEmail.objects.filter(sent_at=None).count() == 2


class SlowMailServer:
    """A mail server that takes half a second to accept a message."""

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        pass

    def close(self):
        pass

    def send_messages(self, messages):
        time.sleep(0.5)
        return len(messages)


def test_time_waiting_for_the_mail_server_is_not_paced(event, person_factory, settings):
    settings.EMAIL_DELIVERY = "queue"
    settings.EMAIL_BACKEND = f"{__name__}.SlowMailServer"
    register(event, person_factory)
    took = []

    started = time.monotonic()
    assert emails.send_queued(pace=took.append) == (1, 0)
    total = time.monotonic() - started

    # What was paced is the whole but for the half second the mail server took.
    assert len(took) == 1 and 0 < took[0] <= total - 0.5
