import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from registrations import services
from registrations.forms import NO_SESSION
from registrations.models import Registration
from tests.factories import (
    EventFactory,
    SeriesFactory,
    build_programme,
    offerings_by_round,
    person,
    registration_form_data,
)

pytestmark = pytest.mark.django_db


def test_registration_page_shows_rounds_as_fieldsets_with_seats(client, event):
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 0
    offering.save()

    response = client.get(reverse("registrations:create", args=[event.slug]))

    content = response.content.decode()
    # language switch, "your details", the role question, and one per round
    assert content.count("<legend") == 1 + 1 + 1 + 2
    assert "vol, je komt op de wachtlijst" in content
    assert "12 plekken vrij" in content
    assert 'autocomplete="email"' in content
    assert 'autocomplete="organization"' in content
    assert 'autocomplete="name"' in content


def test_register_redirects_to_confirmation_and_mails(
    client, event, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("registrations:create", args=[event.slug]), registration_form_data(event)
        )

    assert response.status_code == 302
    assert response["Location"] == reverse("registrations:done", args=[event.slug])
    registration = Registration.objects.get()
    assert (registration.name, registration.role, registration.language) == (
        "Anna de Vries",
        "civil_servant",
        "nl",
    )
    assert registration.choices.count() == 2
    done = client.get(response["Location"]).content.decode()
    assert "We hebben een bericht gestuurd naar <strong>anna@example.nl</strong>" in done
    [message] = mail.outbox
    assert message.subject == f"Je aanmelding voor {event.title}"
    assert registration.get_absolute_url() in message.body
    html = message.alternatives[0][0]
    assert registration.get_absolute_url() in html
    [(name, ics, mimetype)] = message.attachments
    assert (name, mimetype) == ("uitnodiging.ics", "text/calendar")
    assert "BEGIN:VEVENT" in (ics.decode() if isinstance(ics, bytes) else ics)


def test_confirmation_page_reads_a_signed_cookie_not_a_session(client, event):
    response = client.post(
        reverse("registrations:create", args=[event.slug]), registration_form_data(event)
    )

    done_url = reverse("registrations:done", args=[event.slug])
    cookie = response.cookies["registration_summary"]
    assert (cookie["path"], cookie["httponly"], cookie["samesite"]) == (done_url, True, "Lax")
    assert "anna@example.nl" not in cookie.value  # compressed and signed, not plain text
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Session.objects.exists()
    assert "anna@example.nl" in client.get(done_url).content.decode()

    # A changed cookie is refused: the page then shows nothing personal.
    client.cookies["registration_summary"] = cookie.value[:-2] + "xx"
    response = client.get(done_url)
    assert response.status_code == 302
    assert response["Location"] == event.get_absolute_url()


def test_confirmation_page_without_registering_goes_to_the_event(client, event):
    response = client.get(reverse("registrations:done", args=[event.slug]))

    assert response.status_code == 302
    assert response["Location"] == event.get_absolute_url()


def test_double_submit_creates_one_registration(client, event):
    url = reverse("registrations:create", args=[event.slug])

    first = client.post(url, registration_form_data(event))
    second = client.post(url, registration_form_data(event))

    assert first.status_code == second.status_code == 302
    assert Registration.objects.count() == 1


def test_repeat_registration_looks_the_same_and_mails_the_link(
    client, event, django_capture_on_commit_callbacks
):
    existing = services.register_attendee(
        event, person=services.Person(name="Anna", email="anna@example.nl", role="resident")
    ).registration
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("registrations:create", args=[event.slug]),
            registration_form_data(event),
            follow=True,
        )

    content = response.content.decode()
    assert "We hebben een bericht gestuurd naar <strong>anna@example.nl</strong>" in content
    assert Registration.objects.get().name == "Anna"
    [message] = mail.outbox
    assert existing.get_absolute_url() in message.body
    assert "al aangemeld" in message.body


def test_repeat_registrations_mail_the_link_once_and_look_the_same(
    client, event, django_capture_on_commit_callbacks
):
    services.register_attendee(
        event, person=services.Person(name="Anna", email="anna@example.nl", role="resident")
    )
    mail.outbox.clear()
    url = reverse("registrations:create", args=[event.slug])

    pages = []
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, registration_form_data(event), follow=True)
        pages.append((response.redirect_chain, response.content))

    assert all(page == pages[0] for page in pages)  # whether mailed or not
    assert [message.to for message in mail.outbox] == [["anna@example.nl"]]


def test_invalid_form_is_400_with_dutch_messages_and_keeps_input(client, event):
    data = registration_form_data(event, email="geen-adres", name="  ", consent="")

    response = client.post(reverse("registrations:create", args=[event.slug]), data)

    content = response.content.decode()
    assert response.status_code == 400
    assert "Er is een probleem" in content
    assert '<a href="#id_email">Vul een e-mailadres in zoals naam@voorbeeld.nl.</a>' in content
    assert "Vul je naam in." in content
    assert "Ga akkoord met de privacyverklaring om je aan te melden." in content
    assert 'value="Gemeente Zaanstad"' in content
    assert "Hoe betrek je jongeren?" in content
    assert 'aria-describedby="id_email_helptext error_1_id_email"' in content
    assert 'aria-invalid="true"' in content
    assert Registration.objects.count() == 0


def test_control_characters_in_free_text_are_normalised(client, event):
    # Word pastes a vertical tab for Shift+Enter; ESC, NUL and the like are invisible.
    data = registration_form_data(
        event,
        name="Anna\x0bde Vries\x1b",
        organisation="\x00Gemeente\x0cZaanstad",
        function="wijk\x07manager\x1f",
        question="Hoe betrek je\x0bjongeren?\r\nEn\touderen?\x1b[31m",
    )

    response = client.post(reverse("registrations:create", args=[event.slug]), data)

    assert response.status_code == 302
    registration = Registration.objects.get()
    assert (registration.name, registration.organisation, registration.function) == (
        "Anna de Vries",
        "Gemeente Zaanstad",
        "wijkmanager",
    )
    assert registration.question == "Hoe betrek je\njongeren?\r\nEn\touderen?[31m"


def test_same_session_twice_gets_message_next_to_round(client, event):
    first_round, second_round = offerings_by_round(event)
    data = registration_form_data(event)
    data[f"round_{second_round[0].round_id}"] = str(second_round[0].pk)
    data[f"round_{first_round[0].round_id}"] = str(first_round[0].pk)

    response = client.post(reverse("registrations:create", args=[event.slug]), data)

    assert response.status_code == 400
    assert "Je hebt deze sessie al in een andere ronde gekozen." in response.content.decode()
    assert Registration.objects.count() == 0


def test_no_session_in_a_round_is_allowed(client, event):
    first_round, _ = offerings_by_round(event)
    data = registration_form_data(event)
    data[f"round_{first_round[0].round_id}"] = NO_SESSION

    response = client.post(reverse("registrations:create", args=[event.slug]), data)

    assert response.status_code == 302
    assert Registration.objects.get().choices.count() == 1


def test_closed_registration_page_says_so(client):
    now = timezone.now()
    event = EventFactory(
        registration_opens_at=now - datetime.timedelta(days=3),
        registration_closes_at=now - datetime.timedelta(days=1),
    )

    get = client.get(reverse("registrations:create", args=[event.slug]))
    post = client.post(reverse("registrations:create", args=[event.slug]), {"name": "x"})

    assert get.status_code == post.status_code == 403
    assert "De aanmelding voor dit evenement is gesloten." in get.content.decode()
    assert Registration.objects.count() == 0


def test_event_without_rounds_registers_for_event_alone(client):
    event = EventFactory(capacity=10)

    response = client.post(
        reverse("registrations:create", args=[event.slug]),
        {"name": "Piet", "email": "piet@example.nl", "role": "resident", "consent": "on"},
    )

    assert response.status_code == 302
    assert Registration.objects.get().choices.count() == 0


def test_manage_page_shows_choices_and_changes_them(client, event):
    first_round, second_round = offerings_by_round(event)
    registration = services.register_attendee(
        event,
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
        offering_ids=[first_round[0].pk],
    ).registration
    url = registration.get_absolute_url()

    page = client.get(url)
    response = client.post(
        url,
        {
            f"round_{first_round[0].round_id}": str(first_round[1].pk),
            f"round_{second_round[0].round_id}": str(second_round[2].pk),
        },
    )

    assert first_round[0].session.title in page.content.decode()
    assert response.status_code == 302
    assert sorted(registration.choices.active().values_list("offering", flat=True)) == sorted(
        [first_round[1].pk, second_round[2].pk]
    )


def test_manage_with_unknown_token_is_404(client):
    assert client.get(reverse("registrations:manage", args=["x" * 43])).status_code == 404


def test_cancel_asks_then_cancels(client, event):
    registration = services.register_attendee(
        event, person=services.Person(name="Anna", email="anna@example.nl", role="resident")
    ).registration
    url = reverse("registrations:cancel", args=[registration.token])

    page = client.get(url)
    response = client.post(url, follow=True)

    assert "Ja, annuleer mijn aanmelding" in page.content.decode()
    registration.refresh_from_db()
    assert registration.status == "cancelled"
    assert "Deze aanmelding is geannuleerd." in response.content.decode()


def test_series_form_registers_for_several_events(client):
    series = SeriesFactory()
    first = build_programme(sessions=2, rounds=1, series=series)
    second = EventFactory(series=series)
    EventFactory(series=series)  # not chosen
    offering = first.offerings.first()

    response = client.post(
        reverse("registrations:series", args=[series.slug]),
        {
            "name": "Sam",
            "email": "sam@example.nl",
            "role": "professional",
            "consent": "on",
            f"event_{first.pk}": "on",
            f"event_{second.pk}": "on",
            f"round_{offering.round_id}": str(offering.pk),
        },
    )

    assert response.status_code == 302
    assert sorted(Registration.objects.values_list("event", flat=True)) == sorted(
        [first.pk, second.pk]
    )
    assert Registration.objects.get(event=first).choices.get().offering == offering


def test_series_form_normalises_control_characters(client):
    series = SeriesFactory()
    event = EventFactory(series=series)

    client.post(
        reverse("registrations:series", args=[series.slug]),
        {
            "name": "Sam\x0bSmit",
            "email": "sam@example.nl",
            "organisation": "Buurt\x1bhuis",
            "role": "professional",
            "consent": "on",
            f"event_{event.pk}": "on",
        },
    )

    assert Registration.objects.values_list("name", "organisation").get() == (
        "Sam Smit",
        "Buurthuis",
    )


def test_series_form_needs_an_event(client):
    series = SeriesFactory()
    EventFactory(series=series)

    response = client.post(
        reverse("registrations:series", args=[series.slug]),
        {"name": "Sam", "email": "sam@example.nl", "role": "professional", "consent": "on"},
    )

    assert response.status_code == 400
    assert "Kies ten minste één bijeenkomst." in response.content.decode()
    assert Registration.objects.count() == 0


def test_event_page_shows_seats_left_and_full(client, event):
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 1
    offering.save()
    services.register_attendee(
        event,
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
        offering_ids=[offering.pk],
    )

    content = client.get(event.get_absolute_url()).content.decode()

    assert content.count("vol, wachtlijst") == 2  # the overview and the programme
    assert "99 plekken vrij" in content
    assert reverse("registrations:create", args=[event.slug]) in content


def test_confirmation_email_in_participants_language(
    client, event, django_capture_on_commit_callbacks
):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("registrations:create", args=[event.slug]), registration_form_data(event)
        )

    [message] = mail.outbox
    assert Registration.objects.get().language == "en"
    assert message.subject == f"Your registration for {event.title}"
    assert "Dear Anna de Vries," in message.body
    assert "place confirmed" in message.body


def test_admin_capacity_increase_promotes_and_mails(
    admin_client, event, django_capture_on_commit_callbacks
):
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 0
    offering.save()
    waiting = services.register_attendee(
        event,
        person=services.Person(name="Wacht", email="wacht@example.nl", role="resident"),
        offering_ids=[offering.pk],
    ).registration
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:events_sessionoffering_change", args=[offering.pk]),
            {
                "event": event.pk,
                "session": offering.session_id,
                "round": offering.round_id,
                "capacity": 5,
                "location": "",
                "order": 0,
            },
            follow=True,
        )

    assert waiting.choices.get().status == "confirmed"
    assert [m.to for m in mail.outbox] == [["wacht@example.nl"]]
    assert "doorgeschoven" in response.content.decode()


def test_cancelling_after_the_event_changes_nothing(one_seat_event, client, mailoutbox):
    event, offering = one_seat_event
    first = services.register_attendee(event, person=person(1), offering_ids=[offering.pk])
    services.register_attendee(event, person=person(2), offering_ids=[offering.pk])
    Event.objects.filter(pk=event.pk).update(
        start_date=timezone.localdate() - datetime.timedelta(days=1)
    )
    mailoutbox.clear()

    response = client.post(reverse("registrations:cancel", args=[first.registration.token]))

    first.registration.refresh_from_db()
    assert response.status_code == 409
    assert first.registration.status == "confirmed"
    assert mailoutbox == []
    assert "kan niet meer worden geannuleerd" in response.content.decode()
