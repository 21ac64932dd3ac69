import datetime
from collections import Counter
from io import StringIO

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from registrations import services
from registrations.models import QueuedEmail, Registration, SessionChoice
from tests.factories import build_programme, offerings_by_round

pytestmark = pytest.mark.django_db

PERSONAL = ["name", "email", "organisation", "function", "question", "token"]


def ended_days_ago(event, days):
    """Move an event (registered for while open) into the past."""
    day = timezone.localdate() - datetime.timedelta(days=days)
    Event.objects.filter(pk=event.pk).update(start_date=day, end_date=None)


def register_people(event, person_factory, count):
    first_round, second_round = offerings_by_round(event)
    first_round[0].capacity = 1
    first_round[0].save()
    return [
        services.register_attendee(
            event,
            person=person_factory(question=f"Vraag van deelnemer {number}"),
            offering_ids=[first_round[0].pk, second_round[1].pk],
        ).registration
        for number in range(count)
    ]


def statistics(event):
    registrations = Registration.objects.filter(event=event)
    choices = SessionChoice.objects.filter(registration__event=event)
    return (
        Counter(registrations.values_list("status", "role", "language")),
        Counter(choices.values_list("offering_id", "status")),
        registrations.filter(checked_in_at__isnull=False).count(),
    )


def run(*args):
    out = StringIO()
    call_command("anonymise_registrations", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def old_event(person_factory):
    event = build_programme(sessions=2, rounds=2, capacity=2)
    register_people(event, person_factory, 3)
    Registration.objects.filter(event=event).update(checked_in_at=timezone.now())
    services.cancel_registration(Registration.objects.filter(event=event).last())
    ended_days_ago(event, 90)
    event.refresh_from_db()
    return event


def test_registrations_90_days_after_the_event_lose_their_personal_data(old_event):
    before = list(Registration.objects.filter(event=old_event).values("pk", *PERSONAL))

    output = run()

    after = {
        r["pk"]: r for r in Registration.objects.filter(event=old_event).values("pk", *PERSONAL)
    }
    assert output == (
        f"Anonymised 3 registrations of 1 events that ended on or before "
        f"{old_event.start_date:%Y-%m-%d}.\n"
    )
    for old in before:
        new = after[old["pk"]]
        assert new["name"] == "Geanonimiseerde deelnemer"
        assert new["email"] == f"anonymised-{old['pk']}@anonymised.invalid"
        assert (new["organisation"], new["function"], new["question"]) == ("", "", "")
        assert new["token"] != old["token"]
        assert len(new["token"]) == len(old["token"])


def test_counts_for_statistics_are_kept(old_event):
    before = statistics(old_event)

    run()

    assert statistics(old_event) == before
    assert before[0][("confirmed", "resident", "nl")] == 2  # the fixture is not empty


def test_old_personal_link_stops_working(client, old_event):
    registration = Registration.objects.filter(event=old_event).first()
    old_url = registration.get_absolute_url()

    run()

    assert client.get(old_url).status_code == 404
    registration.refresh_from_db()
    assert client.get(registration.get_absolute_url()).status_code == 200


def test_recent_and_upcoming_events_are_left_alone(person_factory):
    recent = build_programme(sessions=2, rounds=2)
    upcoming = build_programme(sessions=2, rounds=2)
    register_people(recent, person_factory, 2)
    register_people(upcoming, person_factory, 2)
    ended_days_ago(recent, 89)
    before = list(Registration.objects.order_by("pk").values(*PERSONAL))

    output = run()

    assert output.startswith("Anonymised 0 registrations of 0 events")
    assert list(Registration.objects.order_by("pk").values(*PERSONAL)) == before


def test_multi_day_event_counts_from_its_last_day(person_factory):
    event = build_programme(sessions=2, rounds=2)
    register_people(event, person_factory, 1)
    today = timezone.localdate()
    Event.objects.filter(pk=event.pk).update(
        start_date=today - datetime.timedelta(days=92),
        end_date=today - datetime.timedelta(days=89),
    )

    assert run().startswith("Anonymised 0 ")
    assert run("--days", "89").startswith("Anonymised 1 ")


def test_days_come_from_settings_and_the_option(settings, old_event):
    settings.REGISTRATION_RETENTION_DAYS = 120

    assert run().startswith("Anonymised 0 ")
    assert run("--days", "30").startswith("Anonymised 3 ")


def test_second_run_changes_nothing(old_event):
    run()
    first = list(Registration.objects.order_by("pk").values(*PERSONAL))

    output = run()

    assert output.startswith("Anonymised 0 registrations")
    assert list(Registration.objects.order_by("pk").values(*PERSONAL)) == first


def test_dry_run_only_counts(old_event):
    before = list(Registration.objects.order_by("pk").values(*PERSONAL))

    output = run("--dry-run")

    assert output.startswith("Would anonymise 3 registrations of 1 events")
    assert list(Registration.objects.order_by("pk").values(*PERSONAL)) == before


def test_output_contains_no_personal_data(old_event):
    emails = list(Registration.objects.values_list("email", flat=True))

    output = run() + run("--dry-run")

    assert not any(address in output for address in emails)
    assert "@" not in output


def test_negative_days_are_refused(old_event):
    with pytest.raises(CommandError):
        run("--days", "-1")


def test_emails_still_queued_for_them_are_dropped(old_event):
    registrations = Registration.objects.filter(event=old_event)
    sent = QueuedEmail.objects.filter(registration__in=registrations).first()
    sent.sent_at = timezone.now()
    sent.save()
    assert QueuedEmail.objects.filter(registration__in=registrations, sent_at=None).exists()

    run()

    assert not QueuedEmail.objects.filter(registration__in=registrations, sent_at=None).exists()
    assert QueuedEmail.objects.filter(pk=sent.pk).exists()  # the record of what was sent stays


def log_admin_edits(registrations):
    """History entries as the admin writes them: the person's name in the entry and message."""
    user = User.objects.create_superuser("beheer", "beheer@example.nl", "geheim")
    for registration in registrations:
        choice = registration.choices.first()
        LogEntry.objects.log_actions(
            user.pk,
            [registration],
            CHANGE,
            change_message=[
                {"changed": {"fields": ["Naam", "Organisatie"]}},
                {"deleted": {"name": "sessiekeuze", "object": str(choice)}},
            ],
        )
    return user


def test_admin_history_of_anonymised_registrations_names_nobody(client, old_event):
    registrations = list(Registration.objects.filter(event=old_event))
    names = [registration.name for registration in registrations]
    user = log_admin_edits(registrations)

    run()

    entries = LogEntry.objects.filter(object_id__in=[str(r.pk) for r in registrations])
    assert sorted(entries.values_list("object_repr", flat=True)) == sorted(
        f"Geanonimiseerde aanmelding #{registration.pk}" for registration in registrations
    )
    client.force_login(user)
    for registration in registrations:
        history = client.get(
            reverse("admin:registrations_registration_history", args=[registration.pk])
        ).content.decode()
        assert not any(name in history for name in names)
        assert "Naam en Organisatie gewijzigd." in history  # what changed stays known
    for entry in entries:
        assert not any(name in entry.change_message for name in names)


def test_admin_history_of_other_registrations_stays(old_event, person_factory):
    recent = build_programme(sessions=2, rounds=2)
    kept = register_people(recent, person_factory, 1)
    log_admin_edits(kept)
    before = list(LogEntry.objects.values_list("object_repr", "change_message"))

    run()

    assert list(LogEntry.objects.values_list("object_repr", "change_message")) == before
    assert before[0][0] == str(kept[0])


def test_history_of_deleted_registrations_is_anonymised_after_the_retention_period(
    person_factory,
):
    event = build_programme(sessions=2, rounds=2)
    old, recent = register_people(event, person_factory, 2)
    log_admin_edits([old, recent])
    deleted = {old.pk, recent.pk}
    Registration.objects.filter(pk__in=deleted).delete()
    LogEntry.objects.filter(object_id=str(old.pk)).update(
        action_time=timezone.now() - datetime.timedelta(days=91)
    )

    run()

    assert LogEntry.objects.get(object_id=str(old.pk)).object_repr == (
        f"Geanonimiseerde aanmelding #{old.pk}"
    )
    assert LogEntry.objects.get(object_id=str(recent.pk)).object_repr == str(recent)


def test_history_left_by_an_earlier_run_is_anonymised_on_the_next(old_event):
    registrations = list(Registration.objects.filter(event=old_event))
    names = [registration.name for registration in registrations]
    log_admin_edits(registrations)
    written = list(LogEntry.objects.values_list("pk", "object_repr", "change_message"))
    run()
    # As a run before the history was anonymised left it: the registrations done, their
    # history naming them.
    for pk, object_repr, change_message in written:
        LogEntry.objects.filter(pk=pk).update(
            object_repr=object_repr, change_message=change_message
        )

    output = run()

    assert output.startswith("Anonymised 0 registrations")
    assert sorted(LogEntry.objects.values_list("object_repr", flat=True)) == sorted(
        f"Geanonimiseerde aanmelding #{registration.pk}" for registration in registrations
    )
    for entry in LogEntry.objects.all():
        assert not any(name in entry.change_message for name in names)
    assert "Naam" in entry.change_message  # what changed stays known
