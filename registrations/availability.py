"""Whether an event takes registrations now, by the clock and the organiser's settings.

Seats do not enter into it: an open event with no seats left still takes registrations,
for its waiting list. Pages show "fully booked" in a slot filled per response
(``registrations.seat_slots``); ``is_full`` counts for the pages that are never kept.
"""

import datetime

from django.db.models import TextChoices
from django.utils import timezone

from events.models import Event

from . import seat_store


class RegistrationState(TextChoices):
    UNAVAILABLE = "unavailable"  # not through this site
    NOT_YET_OPEN = "not_yet_open"
    PREFERENCES = "preferences"  # preference mode: rankings until the deadline
    ALLOCATING = "allocating"  # preference mode: waiting for the organiser's allocation
    OPEN = "open"  # first come, first served (with a waiting list when full)
    CLOSED = "closed"


# The states in which the form takes a registration or a ranking.
TAKING = {RegistrationState.OPEN, RegistrationState.PREFERENCES}


def registration_state(event: Event, now: datetime.datetime | None = None) -> RegistrationState:
    """The event's state for registration at `now`.

    In preference mode the form takes rankings until the deadline, registration pauses
    until the organiser confirms the allocation, and then goes on first come, first served.
    """
    now = now or timezone.now()
    if not event.registration_enabled:
        return RegistrationState.UNAVAILABLE
    if event.cancelled_at is not None:
        return RegistrationState.CLOSED
    if event.registration_opens_at and now < event.registration_opens_at:
        return RegistrationState.NOT_YET_OPEN
    if event.uses_preferences and not event.allocated_at:
        if event.preferences_close_at is None or now < event.preferences_close_at:
            return RegistrationState.PREFERENCES
        return RegistrationState.ALLOCATING
    if now >= registration_deadline(event):
        return RegistrationState.CLOSED
    return RegistrationState.OPEN


def registration_deadline(event: Event) -> datetime.datetime:
    """When registration closes: as set, or else when the event starts."""
    if event.registration_closes_at is not None:
        return event.registration_closes_at
    return event.starts_at or timezone.make_aware(
        datetime.datetime.combine(event.start_date, datetime.time.min)
    )


def state_changes_at(event: Event, now: datetime.datetime | None = None):
    """The next moment the registration state changes by the clock alone, or None."""
    now = now or timezone.now()
    moments = [event.registration_opens_at, registration_deadline(event)]
    if event.uses_preferences and not event.allocated_at:
        moments.append(event.preferences_close_at)
    return min((moment for moment in moments if moment and moment > now), default=None)


def is_full(event: Event) -> bool:
    """Whether the event's own seats are all taken (one query; False without a limit)."""
    if event.capacity is None:
        return False
    taken = seat_store.seats_taken(event.pk, [], by_role=False).get(None, {})
    return sum(taken.values()) >= event.capacity
