"""Whether an event takes registrations, by the clock and the organiser's settings."""

import datetime

import pytest
from django.utils import timezone

from registrations import services
from registrations.availability import is_full, registration_state, state_changes_at
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("opens", "closes", "expected"),
    [
        (1, None, "not_yet_open"),
        (-1, 1, "open"),
        (-2, -1, "closed"),
        (None, None, "open"),
    ],
)
def test_registration_state_follows_window(opens, closes, expected):
    now = timezone.now()
    event = EventFactory(
        registration_opens_at=now + datetime.timedelta(days=opens) if opens is not None else None,
        registration_closes_at=now + datetime.timedelta(days=closes)
        if closes is not None
        else None,
    )

    assert registration_state(event, now) == expected


def test_registration_state_closed_once_event_started_without_closing_time():
    event = EventFactory(start_date=timezone.localdate() - datetime.timedelta(days=1))

    assert registration_state(event) == "closed"


def test_registration_state_unavailable_when_disabled():
    event = EventFactory(registration_enabled=False)

    assert registration_state(event) == "unavailable"


def test_preference_mode_takes_rankings_until_the_deadline_then_waits_for_the_allocation():
    now = timezone.now()
    event = EventFactory(
        allocation_mode="preference", preferences_close_at=now + datetime.timedelta(hours=1)
    )

    assert registration_state(event, now) == "preferences"
    assert registration_state(event, now + datetime.timedelta(hours=2)) == "allocating"
    event.allocated_at = now + datetime.timedelta(hours=3)
    assert registration_state(event, now + datetime.timedelta(hours=4)) == "open"


def test_the_state_changes_at_the_next_moment_of_the_window():
    now = timezone.now()
    opens = now + datetime.timedelta(days=1)
    closes = now + datetime.timedelta(days=2)
    event = EventFactory(registration_opens_at=opens, registration_closes_at=closes)

    assert state_changes_at(event, now) == opens
    assert state_changes_at(event, opens) == closes
    assert state_changes_at(event, closes) is None


def test_an_event_is_full_when_its_own_seats_are_taken(person_factory):
    event = EventFactory(capacity=1)
    unlimited = EventFactory(capacity=None)
    assert not is_full(event) and not is_full(unlimited)

    services.register_attendee(event, person=person_factory(), offering_ids=[])

    assert is_full(event) and not is_full(unlimited)
