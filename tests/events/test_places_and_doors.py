"""Places within the venue, a venue still to be announced, and the doors-open time."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from events.services import copy_as_draft
from tests.factories import EventFactory, ProgrammeBlockFactory, build_programme

pytestmark = pytest.mark.django_db


def get(client, url, language="nl"):
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    return client.get(url).content.decode()


def test_blocks_and_rounds_show_their_place_on_the_timeline(client):
    event = build_programme(sessions=1, rounds=1)
    event.programme_blocks.update(location="Kennisplein")
    event.rounds.update(location="Zalen op de eerste verdieping")

    content = get(client, event.get_absolute_url())

    assert '<p class="timeline__place" lang="nl">Kennisplein</p>' in content
    assert "Zalen op de eerste verdieping" in content
    assert copy_as_draft(event).programme_blocks.get().location == "Kennisplein"


def test_offering_place_shows_on_card_email_and_sign_in_sheet(
    client, admin_client, django_capture_on_commit_callbacks
):
    from tests.factories import registration_form_data

    event = build_programme(sessions=2, rounds=2, capacity=100)
    event.offerings.update(location="online break-out 2")

    assert "online break-out 2" in get(client, event.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("registrations:create", args=[event.slug]), registration_form_data(event)
        )
    [message] = mail.outbox
    assert ", online break-out 2" in message.body
    sheet = admin_client.get(
        reverse("registrations:offering_attendees", args=[event.offerings.first().pk])
    )
    assert ", online break-out 2" in sheet.content.decode()


def test_a_venue_to_be_announced_says_so_instead_of_inventing_one(client):
    event = EventFactory(venue=None, venue_to_be_announced=True)

    content = get(client, event.get_absolute_url())
    assert "<dt>Locatie</dt>" in content and "volgt nog" in content
    assert "locatie volgt nog" in get(client, reverse("events:home"))
    assert "to be announced" in get(client, event.get_absolute_url(), "en")
    ics = client.get(reverse("events:event_ics", args=[event.slug])).content.decode()
    assert "LOCATION:Venue to be announced" in ics  # the client asked in English last


def test_an_event_without_venue_and_no_flag_shows_no_venue(client):
    event = EventFactory(venue=None)
    assert "volgt nog" not in get(client, event.get_absolute_url())


def test_doors_open_shows_on_the_page_and_in_the_calendar(client):
    event = EventFactory(doors_open=datetime.time(12, 30), start_time=datetime.time(13, 0))

    assert "13:00 – 17:00 (inloop vanaf 12:30)" in get(client, event.get_absolute_url())
    assert "13:00 – 17:00 (doors open 12:30)" in get(client, event.get_absolute_url(), "en")
    ics = client.get(reverse("events:event_ics", args=[event.slug])).content.decode()
    assert "Doors open 12:30" in ics.replace("\r\n ", "")


def test_doors_cannot_open_after_the_start():
    event = EventFactory.build(doors_open=datetime.time(14, 30), start_time=datetime.time(14, 0))
    with pytest.raises(ValidationError, match="inloop"):
        event.full_clean(exclude=["venue", "kind"])


def test_seed_like_event_without_doors_open_shows_only_its_times(client):
    event = EventFactory()
    ProgrammeBlockFactory(event=event)
    assert "inloop" not in get(client, event.get_absolute_url())
