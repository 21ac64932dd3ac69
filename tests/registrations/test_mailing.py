import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.urls import reverse

from registrations import emails, services
from registrations.models import Mailing, QueuedEmail
from tests.factories import build_programme, offerings_by_round

pytestmark = pytest.mark.django_db

BODY = "De zaal is verplaatst naar de eerste verdieping.\r\n\r\nTot dan!"


def register(event, person, offerings=()):
    return services.register_attendee(
        event, person=person, offering_ids=[offering.pk for offering in offerings]
    ).registration


@pytest.fixture
def participants(event, person_factory):
    """Anna (Dutch) and Ben (English) confirmed in session 1, Cees waiting, Dirk cancelled."""
    event.capacity = 2
    event.save()
    offering = offerings_by_round(event)[0][0]
    anna = register(event, person_factory(name="Anna", email="anna@example.nl"), [offering])
    ben = register(
        event, person_factory(name="Ben", email="ben@example.nl", language="en"), [offering]
    )
    cees = register(event, person_factory(name="Cees", email="cees@example.nl"), [offering])
    dirk = register(event, person_factory(name="Dirk", email="dirk@example.nl"))
    services.cancel_registration(dirk)
    return {"anna": anna, "ben": ben, "cees": cees, "dirk": dirk, "offering": offering}


@pytest.fixture
def mailing(event, admin_user):
    return Mailing.objects.create(
        event=event, subject="Nieuwe zaal", body=BODY, created_by=admin_user
    )


def change_url(mailing):
    return reverse("admin:registrations_mailing_change", args=[mailing.pk])


def send_url(mailing):
    return reverse("admin:registrations_mailing_send", args=[mailing.pk])


def shown_messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_add_mailing_goes_to_its_change_page_and_records_the_author(
    admin_client, admin_user, event
):
    response = admin_client.post(
        reverse("admin:registrations_mailing_add"),
        {"event": event.pk, "offering": "", "subject": "Nieuwe zaal", "body": BODY},
    )

    mailing = Mailing.objects.get()
    assert response.status_code == 302
    assert response["Location"] == change_url(mailing)
    assert (mailing.event, mailing.offering, mailing.created_by) == (event, None, admin_user)
    assert (mailing.sent_at, mailing.recipient_count) == (None, None)


def test_offering_of_another_event_is_refused_next_to_the_field(admin_client, event):
    other_offering = offerings_by_round(build_programme(sessions=1, rounds=1))[0][0]

    response = admin_client.post(
        reverse("admin:registrations_mailing_add"),
        {"event": event.pk, "offering": other_offering.pk, "subject": "Hallo", "body": "Tekst"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "offering": [
            f"Deze sessie hoort bij een ander evenement. Kies een sessie van {event.title}, "
            "of laat dit veld leeg om alle deelnemers van het evenement te mailen."
        ]
    }
    assert Mailing.objects.count() == 0


def test_change_page_offers_only_the_events_sessions(admin_client, event, mailing):
    build_programme(sessions=1, rounds=1)

    response = admin_client.get(change_url(mailing))

    offerings = response.context["adminform"].form.fields["offering"].queryset
    assert sorted(offering.pk for offering in offerings) == sorted(
        offering.pk for offering in event.offerings.all()
    )


def test_change_page_shows_recipient_count_and_preview_for_the_first_recipient(
    admin_client, participants, mailing
):
    anna = participants["anna"]

    response = admin_client.get(change_url(mailing))

    content = response.content.decode()
    assert "2 bevestigde deelnemers" in content
    assert "Het bericht zoals Anna het ontvangt:" in content
    assert (
        "Beste Anna,<br><br>De zaal is verplaatst naar de eerste verdieping.<br><br>Tot dan!"
        in content
    )
    # Organisers see where the link goes, never the code that gives access to Anna's page.
    assert "(de persoonlijke link van de deelnemer)" in content
    assert anna.token not in content
    assert send_url(mailing) in content


def test_session_mailing_counts_the_confirmed_participants_of_that_session(
    admin_client, participants, mailing
):
    mailing.offering = participants["offering"]
    mailing.save()
    # Ben leaves the session but stays at the event.
    services.change_choices(participants["ben"], offering_ids=[])

    response = admin_client.get(change_url(mailing))

    assert "1 bevestigde deelnemer<" in response.content.decode()
    assert list(services.mailing_recipients(mailing)) == [participants["anna"]]


def test_send_page_asks_for_confirmation_and_sends_nothing(
    admin_client, participants, mailing, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.get(send_url(mailing))

    content = response.content.decode()
    assert response.templates[0].name == "admin/registrations/mailing/send_confirmation.html"
    assert f"Deze mailing gaat naar 2 bevestigde deelnemers van {mailing.event.title}" in content
    assert '<p id="mailing-subject">Nieuwe zaal</p>' in content
    assert "<p>Beste Anna,</p>" in content
    assert participants["anna"].token not in content
    assert 'value="Ja, versturen"' in content
    assert mailoutbox == []
    mailing.refresh_from_db()
    assert mailing.sent_at is None


def test_confirmed_post_mails_each_confirmed_participant_separately(
    admin_client, participants, mailing, django_capture_on_commit_callbacks, mailoutbox
):
    anna, ben = participants["anna"], participants["ben"]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(send_url(mailing), follow=True)

    assert [(message.to, message.cc, message.bcc) for message in mailoutbox] == [
        (["anna@example.nl"], [], []),
        (["ben@example.nl"], [], []),
    ]
    assert [message.subject for message in mailoutbox] == ["Nieuwe zaal", "Nieuwe zaal"]
    assert mailoutbox[0].body == (
        "Beste Anna,\n\n"
        "De zaal is verplaatst naar de eerste verdieping.\n\nTot dan!\n\n"
        "Bekijk, wijzig of annuleer je aanmelding met je persoonlijke link:\n"
        f"{settings.SITE_URL}{anna.get_absolute_url()}\n"
    )
    assert mailoutbox[1].body.startswith("Dear Ben,\n\n")
    assert mailoutbox[1].body.endswith(f"{settings.SITE_URL}{ben.get_absolute_url()}\n")
    mailing.refresh_from_db()
    assert mailing.recipient_count == 2
    assert mailing.sent_at is not None
    assert shown_messages(response) == ["De mailing is verstuurd naar 2 deelnemers, ieder apart."]


def test_session_mailing_reaches_only_that_sessions_confirmed_participants(
    admin_client,
    participants,
    mailing,
    event,
    person_factory,
    django_capture_on_commit_callbacks,
    mailoutbox,
):
    other_session = offerings_by_round(event)[0][1]
    event.capacity = None
    event.save()
    register(event, person_factory(name="Eva", email="eva@example.nl"), [other_session])
    mailing.offering = participants["offering"]
    mailing.save()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(send_url(mailing))

    assert sorted(message.to[0] for message in mailoutbox) == ["anna@example.nl", "ben@example.nl"]


def test_sent_mailing_is_not_sent_twice(
    admin_client, admin_user, participants, mailing, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(send_url(mailing), follow=True)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(send_url(mailing), follow=True)
        services.send_mailing(mailing, user=admin_user)

    assert mailoutbox == []
    assert shown_messages(response) == ["Deze mailing is al verstuurd."]
    mailing.refresh_from_db()
    assert mailing.recipient_count == 2


def test_mailing_is_sent_only_after_commit(participants, mailing, admin_user, mailoutbox):
    with transaction.atomic():
        services.send_mailing(mailing, user=admin_user)
        assert mailoutbox == []


def test_mailing_without_recipients_is_not_sent(
    admin_client, event, mailing, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(send_url(mailing), follow=True)

    assert mailoutbox == []
    assert shown_messages(response) == [
        "Niemand zou deze mailing ontvangen: er zijn geen bevestigde deelnemers."
    ]
    mailing.refresh_from_db()
    assert (mailing.sent_at, mailing.recipient_count) == (None, None)


def test_sent_mailing_is_read_only(admin_client, participants, mailing, admin_user):
    services.send_mailing(mailing, user=admin_user)

    page = admin_client.get(change_url(mailing))
    post = admin_client.post(
        change_url(mailing), {"event": mailing.event_id, "subject": "Anders", "body": "Anders"}
    )

    content = page.content.decode()
    assert page.context["has_change_permission"] is False
    assert 'name="subject"' not in content
    assert send_url(mailing) not in content
    assert post.status_code == 403
    mailing.refresh_from_db()
    assert mailing.subject == "Nieuwe zaal"


def test_send_action_leads_to_the_confirmation_page(admin_client, participants, mailing):
    response = admin_client.post(
        reverse("admin:registrations_mailing_changelist"),
        {"action": "send_selected", "_selected_action": [mailing.pk]},
    )

    assert response.status_code == 302
    assert response["Location"] == send_url(mailing)


def test_send_action_refuses_a_sent_mailing(admin_client, participants, mailing, admin_user):
    services.send_mailing(mailing, user=admin_user)

    response = admin_client.post(
        reverse("admin:registrations_mailing_changelist"),
        {"action": "send_selected", "_selected_action": [mailing.pk]},
        follow=True,
    )

    assert shown_messages(response) == ["Selecteer precies één mailing die nog niet is verstuurd."]


@pytest.mark.parametrize("page", [change_url, send_url])
def test_staff_without_permissions_cannot_open_or_send_a_mailing(
    client, django_user_model, participants, mailing, page, mailoutbox
):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)

    get = client.get(page(mailing))
    post = client.post(send_url(mailing))

    assert (get.status_code, post.status_code) == (403, 403)
    assert mailoutbox == []
    mailing.refresh_from_db()
    assert mailing.sent_at is None


def test_mailing_goes_through_the_outbox(participants, mailing, admin_user, settings, mailoutbox):
    """Queued with the send, in the same transaction; the worker sends each copy."""
    settings.EMAIL_DELIVERY = "queue"
    registration_emails = QueuedEmail.objects.count()

    services.send_mailing(mailing, user=admin_user)

    copies = QueuedEmail.objects.filter(kind="mailing")
    assert sorted(copies.values_list("registration__email", flat=True)) == [
        "anna@example.nl",
        "ben@example.nl",
    ]
    assert set(copies.values_list("mailing", flat=True)) == {mailing.pk}
    mailoutbox.clear()

    # The participants' own confirmations wait in the outbox too (the test's
    # transaction never commits): send the copies of the mailing.
    assert emails.send_queued(list(copies.values_list("pk", flat=True))) == (2, 0)

    assert QueuedEmail.objects.count() == registration_emails + 2
    by_address = {message.to[0]: message for message in mailoutbox}
    assert sorted(by_address) == ["anna@example.nl", "ben@example.nl"]
    assert by_address["anna@example.nl"].subject == "Nieuwe zaal"
    assert by_address["anna@example.nl"].body.startswith("Beste Anna,\n\nDe zaal is verplaatst")
    assert by_address["ben@example.nl"].body.startswith("Dear Ben,")


def test_mailing_refused_by_the_mail_server_is_sent_later(
    participants, mailing, admin_user, settings, mailoutbox
):
    """A mail server that is down no longer loses the mailing: its copies stay queued."""
    settings.EMAIL_DELIVERY = "queue"
    services.send_mailing(mailing, user=admin_user)
    mailoutbox.clear()
    settings.EMAIL_BACKEND = "tests.registrations.test_outbox.RefusingBackend"
    copies = QueuedEmail.objects.filter(kind="mailing")
    pks = list(copies.values_list("pk", flat=True))

    assert emails.send_queued(pks) == (0, 2)
    assert {(row.sent_at, row.attempts) for row in copies} == {(None, 1)}

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    copies.update(retry_after=None)
    assert emails.send_queued(pks) == (2, 0)
    assert sorted(message.to[0] for message in mailoutbox) == ["anna@example.nl", "ben@example.nl"]


def test_a_mailing_copy_needs_its_mailing(participants):
    with pytest.raises(IntegrityError), transaction.atomic():
        QueuedEmail.objects.create(registration=participants["anna"], kind="mailing")
