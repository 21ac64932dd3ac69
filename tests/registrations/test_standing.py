"""Where a participant stands: exactly one status per chosen session and one for the
event, the same on the personal page and in both forms of the e-mail; the confirmation
page claims none, so that it reads the same for a new and a known address."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registrations import services
from registrations.models import Registration, SessionChoice
from registrations.standing import standing, standings
from tests.factories import (
    EventFactory,
    SeriesFactory,
    build_programme,
    offerings_by_round,
    person,
    registration_form_data,
)

pytestmark = pytest.mark.django_db

ALL_CONFIRMED = "Je plek bij het evenement en in al je sessies is bevestigd."
MIXED = "Je plek bij het evenement is bevestigd. Voor 1 sessie sta je op de wachtlijst"
EVENT_WAITING = "Je staat op de wachtlijst voor het evenement: plaats 1."
SEAT = "plek bevestigd"


@pytest.fixture
def programme(db):
    """Two seats at the event; in round 1 the first session has one seat.

    Registered in this order: P1 (both sessions confirmed), P2 (round 1 waiting, round 2
    confirmed), P3 (the event is full: waiting for it and for both sessions).
    """
    event = build_programme(sessions=2, rounds=2, capacity=2)
    first_round, second_round = offerings_by_round(event)
    first_round[0].capacity = 1
    first_round[0].save()
    chosen = [first_round[0].pk, second_round[1].pk]
    registered = {
        name: services.register_attendee(
            event, person=person(number), offering_ids=chosen
        ).registration
        for number, name in enumerate(["confirmed", "mixed", "waiting"], start=1)
    }
    return {
        "event": event,
        "registrations": registered,
        "titles": (first_round[0].session.title, second_round[1].session.title),
    }


# What each registration's page and e-mails must say: the event, then (session, status).
EXPECTED = {
    "confirmed": (ALL_CONFIRMED, [SEAT, SEAT]),
    "mixed": (MIXED, ["wachtlijst, plaats 1", SEAT]),
    "waiting": (EVENT_WAITING, ["wachtlijst, plaats 2", "wachtlijst, plaats 1"]),
}


def html_statuses(html):
    """[(session title, [its statuses])] of the status component in `html`."""
    [listing] = re.findall(r'<ul class="choice-status">(.*?)</ul>', html, re.DOTALL)
    lines = re.findall(r"</strong> \(.*?\): ([^,<\n]+)(.*?)</li>", listing, re.DOTALL)
    return [
        (title.strip(), re.findall(r'<span class="status [^"]*">([^<]*)</span>', rest))
        for title, rest in lines
    ]


def text_statuses(text):
    """[(session title, status)] of the session list of a text e-mail."""
    return [
        (title.strip(), status.strip())
        for title, status in re.findall(r"^- .*?\): ([^,\n]+).*\n  (.+)$", text, re.MULTILINE)
    ]


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_the_personal_page_shows_one_status_per_session_and_for_the_event(client, programme, who):
    summary, statuses = EXPECTED[who]

    html = client.get(programme["registrations"][who].get_absolute_url()).content.decode()

    assert summary in html
    assert html_statuses(html) == [
        (title, [status]) for title, status in zip(programme["titles"], statuses, strict=True)
    ]
    assert "Je plek is bevestigd." not in html  # the old line, whatever waited


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_the_confirmation_email_says_the_same_in_text_and_html(
    programme, who, mailoutbox, django_capture_on_commit_callbacks
):
    summary, statuses = EXPECTED[who]
    registration = programme["registrations"][who]
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.change_choices(
            registration, offering_ids=list(registration.choices.values_list("offering", flat=True))
        )

    [message] = mailoutbox
    html = message.alternatives[0][0]
    expected = list(zip(programme["titles"], statuses, strict=True))
    assert summary in message.body
    assert summary in html
    assert text_statuses(message.body) == expected
    assert html_statuses(html) == [(title, [status]) for title, status in expected]


def test_each_email_of_a_registration_shows_its_standing(
    event, person_factory, mailoutbox, django_capture_on_commit_callbacks
):
    first_round, second_round = offerings_by_round(event)
    first_round[0].capacity = 0
    first_round[0].save()

    with django_capture_on_commit_callbacks(execute=True):
        services.register_attendee(
            event,
            person=person_factory(),
            offering_ids=[first_round[0].pk, second_round[1].pk],
        )

    [message] = mailoutbox
    assert "Voor 1 sessie sta je op de wachtlijst" in message.body
    assert [status for _title, status in text_statuses(message.body)] == [
        "wachtlijst, plaats 1",
        SEAT,
    ]
    # The calendar invitation says the same of each session.
    [(_name, ics, _type)] = message.attachments
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert "wachtlijst\\, plaats 1" in ics.replace("\r\n ", "")


def test_a_registration_without_sessions_has_only_the_event_status(client, event, person_factory):
    registration = services.register_attendee(event, person=person_factory()).registration

    html = client.get(registration.get_absolute_url()).content.decode()

    assert "Je plek bij het evenement is bevestigd." in html
    assert "Je hebt geen sessies gekozen." in html
    assert 'class="choice-status"' not in html


def test_standings_take_two_queries_however_many_registrations_and_choices(programme):
    registrations = list(
        Registration.objects.prefetch_related(
            "choices__offering__session", "choices__offering__round"
        )
    )

    with CaptureQueriesContext(connection) as queries:
        result = standings(registrations)

    assert len(queries) == 2
    # The same places as asked one at a time.
    for registration in registrations:
        assert result[registration.pk].position == Registration.objects.waiting_position(
            registration
        )
        assert [line.position for line in result[registration.pk].choices] == [
            SessionChoice.objects.waiting_position(choice) for choice in registration.choices.all()
        ]


def test_a_registration_that_waits_for_nothing_costs_no_query(programme):
    registration = Registration.objects.prefetch_related(
        "choices__offering__session", "choices__offering__round"
    ).get(pk=programme["registrations"]["confirmed"].pk)

    with CaptureQueriesContext(connection) as queries:
        result = standing(registration)

    assert len(queries) == 0
    assert result.summary == ALL_CONFIRMED


def test_the_personal_page_queries_the_same_for_one_or_six_waiting_sessions(client):
    def queries_for(rounds):
        event = build_programme(sessions=rounds, rounds=rounds, speakers_per_session=0)
        event.offerings.update(capacity=0)
        registration = services.register_attendee(
            event,
            person=person(rounds),
            # Session n in round n: never the same session twice.
            offering_ids=[offerings[n].pk for n, offerings in enumerate(offerings_by_round(event))],
        ).registration
        with CaptureQueriesContext(connection) as queries:
            html = client.get(registration.get_absolute_url()).content.decode()
        assert html.count("wachtlijst, plaats 1") == rounds
        return len(queries)

    assert queries_for(6) == queries_for(1)


# ------------------------------------------------ the page after the form: nothing claimed


def _normalised(html, address):
    """The page with the address and per-visitor tokens taken out."""
    html = html.replace(address, "ADRES")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_the_page_after_the_form_is_the_same_for_a_new_and_a_known_address(client, event):
    services.register_attendee(
        event, person=services.Person(name="Anna", email="anna@example.nl", role="resident")
    )
    url = reverse("registrations:create", args=[event.slug])
    first_round, second_round = offerings_by_round(event)

    pages = {}
    for address in ["anna@example.nl", "nieuw@example.nl"]:
        response = client.post(url, registration_form_data(event, email=address), follow=True)
        pages[address] = response.content.decode()

    known, new = pages["anna@example.nl"], pages["nieuw@example.nl"]
    assert _normalised(known, "anna@example.nl") == _normalised(new, "nieuw@example.nl")
    assert "We hebben een bericht gestuurd naar <strong>anna@example.nl</strong>" in known
    assert "Was dit adres al aangemeld? Dan is er niets veranderd" in known
    # Nothing is claimed as saved: not the choices, nor a place.
    for page in (known, new):
        assert first_round[0].session.title not in page
        assert second_round[1].session.title not in page
        assert "bevestigd" not in page
    assert Registration.objects.get(email="anna@example.nl").choices.count() == 0


def test_the_known_address_gets_its_real_standing_by_email(
    client, event, mailoutbox, django_capture_on_commit_callbacks
):
    services.register_attendee(
        event, person=services.Person(name="Anna", email="anna@example.nl", role="resident")
    )
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("registrations:create", args=[event.slug]), registration_form_data(event)
        )

    [message] = mailoutbox
    assert "al aangemeld" in message.body
    assert "Je plek bij het evenement is bevestigd." in message.body
    assert "Je hebt geen sessies gekozen." in message.body


def test_the_series_confirmation_lists_the_events_and_claims_no_choice(client):
    series = SeriesFactory()
    events = [build_programme(sessions=2, rounds=2, series=series) for _ in range(2)]
    EventFactory(series=series)  # without rounds
    data = registration_form_data(events[0])
    for event in events:
        data[f"event_{event.pk}"] = "on"
        for number, offerings in enumerate(offerings_by_round(event)):
            data[f"round_{offerings[number].round_id}"] = str(offerings[number].pk)

    response = client.post(reverse("registrations:series", args=[series.slug]), data, follow=True)

    html = response.content.decode()
    assert "We hebben een bericht gestuurd naar <strong>anna@example.nl</strong>" in html
    assert all(event.title in html for event in events)
    assert "Tafelsessie" not in html
    assert Registration.objects.count() == 2
