import datetime
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from registrations.templatetags.registration_tags import registration_label
from tests.factories import (
    EventFactory,
    EventRoleFactory,
    ProgrammeBlockFactory,
    SeriesFactory,
    SessionRoleFactory,
    SpeakerFactory,
    build_programme,
)

pytestmark = pytest.mark.django_db


def test_home_lists_upcoming_then_series_then_past(client):
    today = timezone.localdate()
    upcoming = EventFactory(title="Komt eraan", start_date=today + datetime.timedelta(days=3))
    past = EventFactory(title="Was al", start_date=today - datetime.timedelta(days=3))
    series = SeriesFactory(title="Jaarprogramma")
    EventFactory(title="Verborgen concept", is_published=False)

    response = client.get(reverse("events:home"))

    assert list(response.context["upcoming_events"]) == [upcoming]
    assert list(response.context["past_events"]) == [past]
    assert list(response.context["series_list"]) == [series]
    content = response.content.decode()
    assert content.index("Komt eraan") < content.index("Jaarprogramma") < content.index("Was al")
    assert "Verborgen concept" not in content


def test_home_marks_provisional_events(client):
    EventFactory(title="Reflectie", is_provisional=True, time_to_be_confirmed=True)

    content = client.get(reverse("events:home")).content.decode()

    assert "onder voorbehoud" in content
    assert "tijd nader te bepalen" in content


def test_home_says_a_cancelled_event_does_not_take_place(client):
    from events.models import Event

    today = timezone.localdate()
    EventFactory(title="Afgelast", start_date=today + datetime.timedelta(days=3))
    EventFactory(title="Gaat door", start_date=today + datetime.timedelta(days=4))
    Event.objects.filter(title="Afgelast").update(cancelled_at=timezone.now())

    content = client.get(reverse("events:home")).content.decode()

    cancelled_card = content.split("Afgelast</a>")[1].split("Gaat door</a>")[0]
    other_card = content.split("Gaat door</a>")[1]
    assert "Dit evenement gaat niet door." in cancelled_card
    assert "Dit evenement gaat niet door." not in other_card


def test_event_page_shows_header_facts_in_dutch(client):
    event = build_programme(
        sessions=2,
        rounds=2,
        start_date=datetime.date(2021, 1, 28),
        start_time=datetime.time(13, 0),
        end_time=datetime.time(16, 30),
        price_note="Deelname is gratis",
    )
    presenter = EventRoleFactory(event=event, role="presenter", speaker__name="Hadassah de Boer")

    content = client.get(event.get_absolute_url()).content.decode()

    assert "donderdag 28 januari 2021" in content
    assert "13:00 – 16:30" in content
    assert "Deelname is gratis" in content
    assert f">{presenter.speaker.name}</a>" in content
    assert "Presentator" in content


def test_event_page_shows_every_session_in_its_rounds(client):
    event = build_programme(sessions=3, rounds=2)

    response = client.get(event.get_absolute_url())

    content = response.content.decode()
    rounds = re.split(r'<h3 class="timeline__title" lang="nl">', content)[1:]
    session_titles = list(event.sessions.values_list("title", flat=True))
    assert [title for title in session_titles if title in rounds[1]] == session_titles
    assert [title for title in session_titles if title in rounds[2]] == session_titles
    assert content.count('<details class="session-card__more">') == 3  # described once
    programme = content[content.index('<ol class="timeline">') :]
    assert programme.count("12 plekken") == 6
    assert content.count("12 plekken") == 12  # the overview (issue 20) shows them too


def test_event_page_multi_day_range(client):
    event = EventFactory(
        start_date=datetime.date(2014, 11, 19), end_date=datetime.date(2014, 11, 21)
    )

    content = client.get(event.get_absolute_url()).content.decode()

    assert "woensdag 19 t/m vrijdag 21 november 2014" in content


def test_event_page_time_to_be_confirmed(client):
    event = EventFactory(time_to_be_confirmed=True, is_provisional=True)

    content = client.get(event.get_absolute_url()).content.decode()

    assert "tijd nader te bepalen" in content
    assert "onder voorbehoud" in content


@pytest.mark.parametrize(
    ("opens", "closes", "expected"),
    [
        (1, 5, "Aanmelden opent op"),
        (-1, 5, "De aanmelding is open."),
        (-5, -1, "De aanmelding voor dit evenement is gesloten."),
    ],
)
def test_event_page_registration_box_follows_window(client, opens, closes, expected):
    now = timezone.now()
    event = EventFactory(
        registration_opens_at=now + datetime.timedelta(days=opens),
        registration_closes_at=now + datetime.timedelta(days=closes),
    )

    content = client.get(event.get_absolute_url()).content.decode()

    assert expected in content


def test_event_page_json_ld_describes_event(client):
    event = build_programme(sessions=1, rounds=1, start_date=datetime.date(2021, 1, 28))
    organiser = event.roles.first().speaker.organisation
    event.organisers.add(organiser)

    content = client.get(event.get_absolute_url()).content.decode()

    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', content, re.S).group(1)
    data = json.loads(raw)
    assert data["@type"] == "Event"
    assert data["name"] == event.title
    assert data["startDate"] == "2021-01-28T14:00:00+01:00"
    assert data["location"]["address"]["addressLocality"] == "Zaandam"
    assert data["organizer"] == [{"@type": "Organization", "name": organiser.name}]
    assert len(data["performer"]) == 3 + 2


def test_event_page_json_ld_online_event(client):
    event = EventFactory(venue=None, is_online=True)

    content = client.get(event.get_absolute_url()).content.decode()

    data = json.loads(re.search(r'ld\+json">(.*?)</script>', content, re.S).group(1))
    assert data["eventAttendanceMode"] == "https://schema.org/OnlineEventAttendanceMode"
    assert data["location"]["@type"] == "VirtualLocation"


def test_unpublished_event_is_404_with_dutch_page(client):
    event = EventFactory(is_published=False)

    response = client.get(event.get_absolute_url())

    assert response.status_code == 404
    assert "Pagina niet gevonden" in response.content.decode()


def test_unknown_slugs_are_404(client):
    event = EventFactory()

    responses = [
        client.get(reverse("events:detail", args=["bestaat-niet"])),
        client.get(reverse("events:series", args=["bestaat-niet"])),
        client.get(reverse("events:session", args=[event.slug, "bestaat-niet"])),
        client.get(reverse("speakers:detail", args=["bestaat-niet"])),
        client.get(reverse("events:event_ics", args=["bestaat-niet"])),
    ]

    assert [response.status_code for response in responses] == [404] * 5


def test_session_of_unpublished_event_is_404(client):
    event = build_programme(sessions=1, rounds=1, is_published=False)

    response = client.get(event.sessions.get().get_absolute_url())

    assert response.status_code == 404


def test_series_page_lists_published_events_in_date_order(client):
    series = SeriesFactory(introduction="Zeggenschap en eigenaarschap.")
    later = EventFactory(series=series, start_date=datetime.date(2020, 4, 2))
    earlier = EventFactory(series=series, start_date=datetime.date(2020, 3, 3))
    EventFactory(series=series, is_published=False)

    response = client.get(series.get_absolute_url())

    assert list(response.context["series"].events.all()) == [earlier, later]
    assert "Zeggenschap en eigenaarschap." in response.content.decode()


def test_unpublished_series_is_404(client):
    series = SeriesFactory(is_published=False)

    assert client.get(series.get_absolute_url()).status_code == 404


def test_session_page_shows_rounds_and_leaders(client):
    event = build_programme(sessions=1, rounds=2, speakers_per_session=1)
    session = event.sessions.get()
    leader = session.roles.get().speaker

    content = client.get(session.get_absolute_url()).content.decode()

    assert session.description in content
    assert leader.name in content
    assert content.count("12 plekken") == 2
    assert "Ronde 1" in content and "Ronde 2" in content


def test_speaker_page_lists_roles_across_events(client):
    speaker = SpeakerFactory(biography="Cultuurpsycholoog en publicist.")
    first = EventRoleFactory(speaker=speaker, role="chair")
    second = SessionRoleFactory(speaker=speaker)
    hidden = EventRoleFactory(speaker=speaker, event__is_published=False, event__title="Geheim")

    content = client.get(speaker.get_absolute_url()).content.decode()

    assert "Cultuurpsycholoog en publicist." in content
    assert first.event.title in content
    assert second.session.title in content
    assert hidden.event.title not in content


def test_event_ics_parses_with_amsterdam_times(client):
    event = EventFactory(
        title="Dag van de Buurt",
        start_date=datetime.date(2021, 1, 28),
        start_time=datetime.time(13, 0),
        end_time=datetime.time(16, 30),
    )

    response = client.get(reverse("events:event_ics", args=[event.slug]))

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Dag van de Buurt"
    assert vevent.decoded("DTSTART").isoformat() == "2021-01-28T13:00:00+01:00"
    assert str(vevent["DTSTART"].params["TZID"]) == "Europe/Amsterdam"
    assert vevent.decoded("DTEND").isoformat() == "2021-01-28T16:30:00+01:00"
    assert str(vevent["LOCATION"]).startswith(event.venue.name)
    assert str(vevent["URL"]) == f"http://testserver{event.get_absolute_url()}"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]


def test_event_ics_without_time_is_all_day_and_tentative(client):
    event = EventFactory(
        start_date=datetime.date(2020, 4, 23), time_to_be_confirmed=True, is_provisional=True
    )

    response = client.get(reverse("events:event_ics", args=[event.slug]))

    [vevent] = Calendar.from_ical(response.content).walk("VEVENT")
    assert vevent.decoded("DTSTART") == datetime.date(2020, 4, 23)
    assert str(vevent["STATUS"]) == "TENTATIVE"


def test_series_ics_has_every_published_event(client):
    series = SeriesFactory()
    events = [
        EventFactory(series=series, start_date=datetime.date(2018, 9, 19 + n)) for n in range(3)
    ]
    EventFactory(series=series, is_published=False)

    response = client.get(reverse("events:series_ics", args=[series.slug]))

    vevents = Calendar.from_ical(response.content).walk("VEVENT")
    assert [str(vevent["SUMMARY"]) for vevent in vevents] == [event.title for event in events]


def test_pages_switch_to_english(client):
    event = EventFactory(start_date=datetime.date(2021, 1, 28), time_to_be_confirmed=True)
    ProgrammeBlockFactory(event=event)

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    content = client.get(event.get_absolute_url()).content.decode()

    assert '<html lang="en">' in content
    assert "Thursday 28 January 2021" in content
    assert "time to be confirmed" in content
    assert "Programme" in content


def test_role_affiliation_overrides_speaker_organisation_on_cards(client):
    event = build_programme(sessions=1, rounds=1, speakers_per_session=1, event_speakers=0)
    role = event.sessions.get().roles.get()
    role.affiliation = "Gemeente Den Haag"
    role.save()

    content = client.get(event.get_absolute_url()).content.decode()

    assert f"{role.speaker.name}</a>, Gemeente Den Haag" in content
    assert role.speaker.organisation.name not in content


@pytest.mark.parametrize(
    ("day", "offset"),
    [(datetime.date(2027, 6, 10), "+02:00"), (datetime.date(2027, 1, 14), "+01:00")],
)
def test_event_ics_time_zone_gives_the_event_its_offset(client, day, offset):
    """The VTIMEZONE holds only the rules around the event, and those are right: a
    calendar that reads them (not the zone's name) puts the event at the same moment."""
    event = EventFactory(start_date=day, start_time=datetime.time(13, 0))

    response = client.get(reverse("events:event_ics", args=[event.slug]))

    calendar = Calendar.from_ical(response.content)
    [zone] = calendar.walk("VTIMEZONE")
    local = datetime.datetime.combine(day, datetime.time(13, 0))
    assert local.replace(tzinfo=zone.to_tz()).isoformat() == f"{day}T13:00:00{offset}"
    assert len(response.content) < 2000


def test_a_time_zone_is_worked_out_once_for_every_calendar_around_the_same_dates(monkeypatch):
    """Every confirmation e-mail carries the event's calendar: its VTIMEZONE is kept."""
    from events import calendar as calendars

    calendars._timezone.cache_clear()
    built = []
    from_tzid = calendars.Timezone.from_tzid
    monkeypatch.setattr(
        calendars.Timezone,
        "from_tzid",
        lambda *args, **kwargs: built.append(args) or from_tzid(*args, **kwargs),
    )
    event = EventFactory(start_date=datetime.date(2027, 6, 10), start_time=datetime.time(13, 0))
    other_day = EventFactory(start_date=datetime.date(2027, 9, 2), start_time=datetime.time(10, 0))

    first = calendars.event_calendar(event, "https://example.nl", extra_description="Ronde 1: A")
    second = calendars.event_calendar(event, "https://example.nl", extra_description="Ronde 1: B")
    calendars.event_calendar(other_day, "https://example.nl")

    assert len(built) == 2  # one per date range, not one per calendar
    [zone] = Calendar.from_ical(first.to_ical()).walk("VTIMEZONE")
    [same] = Calendar.from_ical(second.to_ical()).walk("VTIMEZONE")
    assert zone.to_ical() == same.to_ical() and str(zone["TZID"]) == "Europe/Amsterdam"
    assert b"Ronde 1: B" in second.to_ical() and b"Ronde 1: A" not in second.to_ical()


def test_registration_opening_is_shown_in_amsterdam_time():
    event = EventFactory(
        registration_opens_at=timezone.make_aware(datetime.datetime(2099, 3, 1, 9, 0)),
    )

    assert registration_label({}, event) == "Aanmelden opent op 1 maart 2099, 09:00"


def test_a_session_in_several_rounds_is_described_once_and_referred_to(client):
    event = build_programme(sessions=2, rounds=3)
    session = event.sessions.order_by("order").first()
    session.summary = "Korte tekst."
    session.description = "Korte tekst. En de hele beschrijving daarna."
    session.save()

    html = client.get(event.get_absolute_url()).content.decode()

    assert html.count("En de hele beschrijving daarna.") == 1
    assert html.count(f'id="sessie-{session.slug}"') == 1
    assert html.count(f'href="#sessie-{session.slug}">Beschreven bij Ronde 1</a>') == 2
    assert 'Ook in <span lang="nl">Ronde 2</span>, <span lang="nl">Ronde 3</span>' in html
