"""First come, first served: registering, changing, cancelling and moving up.

Each service reads as its steps: check the choices and the person, open the event's
seats under its lock (``registrations.seats``, where every seat rule lives), claim or
free seats, queue the e-mails, write. E-mails are sent after the commit.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from events.models import Event

from .. import emails
from ..availability import RegistrationState, registration_state
from ..models import HistoryEntry, QueuedEmail, Registration
from ..seats import EventSeats, Programme, validated_offerings

Kind = QueuedEmail.Kind

# Registering an address that is already registered mails its personal link again, but
# at most this often, so that registering someone over and over cannot flood an inbox.
LINK_RESEND_INTERVAL = timedelta(minutes=15)


@dataclass
class Person:
    name: str
    email: str
    role: str
    organisation: str = ""
    function: str = ""
    question: str = ""
    language: str = "nl"


@dataclass
class Outcome:
    registration: Registration
    created: bool
    promoted: list = field(default_factory=list)


def check_registration_open(event: Event, *, now: datetime | None = None) -> None:
    """Raise ValidationError (with a code) unless `event` takes registrations now."""
    if not event.is_published:
        raise ValidationError(_("This event is not open for registration."), code="not_published")
    state = registration_state(event, now)
    if state == RegistrationState.NOT_YET_OPEN:
        raise ValidationError(_("Registration has not opened yet."), code="not_yet_open")
    if state in {RegistrationState.CLOSED, RegistrationState.UNAVAILABLE}:
        raise ValidationError(_("Registration for this event is closed."), code="closed")
    if state == RegistrationState.ALLOCATING:
        raise ValidationError(
            _("Places are being assigned now. Registration opens again after that."),
            code="allocating",
        )


def _check_first_come(event, *, now=None):
    check_registration_open(event, now=now)
    if registration_state(event, now) == RegistrationState.PREFERENCES:
        raise ValidationError(
            _("This event takes preferences: rank your sessions instead."), code="preferences"
        )


def filled_in(registration: Registration, person: Person) -> Registration:
    """`registration` with the person's details, validated (the database checks the
    constraints: one registration per address, a lower-case address)."""
    registration.name = person.name
    registration.organisation = person.organisation
    registration.function = person.function
    registration.role = person.role
    registration.question = person.question
    registration.language = person.language
    registration.consented_at = timezone.now()
    registration.cancelled_at = None
    registration.full_clean(
        exclude=["token", "event", "status"], validate_unique=False, validate_constraints=False
    )
    return registration


def mail_link_again(registration: Registration) -> None:
    """Queue the personal link, unless it was queued within LINK_RESEND_INTERVAL. Under
    the event's lock, so that simultaneous repeats see each other's e-mail."""
    recently = QueuedEmail.objects.filter(
        registration=registration,
        kind=Kind.LINK,
        created_at__gte=timezone.now() - LINK_RESEND_INTERVAL,
    )
    if not recently.exists():
        emails.queue(registration.pk, Kind.LINK)


def mail_promoted(registrations: Iterable[Registration]) -> None:
    for registration in registrations:
        emails.queue(registration.pk, Kind.PROMOTION)


@transaction.atomic
def register_attendee(
    event: Event,
    *,
    person: Person,
    offering_ids: Sequence[int] = (),
    now: datetime | None = None,
    programme: Programme | None = None,
) -> Outcome:
    """Register `person` for `event` with one offering per round.

    `programme` (the event's, kept by the caller) spares looking up the chosen offerings
    and the seat reservations.

    Returns an Outcome; ``created`` is False when the address already has an active
    registration, which is then left untouched (its personal link is mailed).
    Raises ValidationError (with a code) when registration is closed or a choice
    breaks the rules.

    Everything that can be done before the event's lock is: every registration for the
    event waits for it. The locked part takes four round trips on PostgreSQL (lock,
    address and seats, inserts, commit).
    """
    offerings = validated_offerings(
        event, offering_ids, known=programme.offerings if programme else None
    )
    email = person.email.strip().lower()
    registration = filled_in(Registration(event=event, email=email), person)

    seats = EventSeats.open(
        event,
        email=email,
        offerings=offerings,
        reservations=programme.reservations if programme else None,
        now=now,
    )
    _check_first_come(seats.event, now=now)
    mail_promoted(seats.promoted)  # a group's reserved seats were released meanwhile
    if seats.existing and seats.existing.is_active:
        mail_link_again(seats.existing)
        return Outcome(registration=seats.existing, created=False)
    if seats.existing:
        registration = filled_in(seats.existing, person)
    seats.admit(registration)
    seats.claim(registration, offerings)
    seats.write(outbox=[emails.outbox_row(registration.pk, Kind.CONFIRMATION)])
    return Outcome(registration=registration, created=True)


@transaction.atomic
def register_for_series(
    events_and_choices: Sequence[tuple[Event, Sequence[int]]],
    *,
    person: Person,
    now: datetime | None = None,
) -> list[Outcome]:
    """Register for several events at once: all succeed or none (one transaction).

    `events_and_choices` is a list of (event, offering_ids). Events are locked in
    primary-key order so concurrent series registrations never deadlock.
    """
    return [
        register_attendee(event, person=person, offering_ids=offering_ids, now=now)
        for event, offering_ids in sorted(events_and_choices, key=lambda pair: pair[0].pk)
    ]


def _locked(registration):
    return Registration.objects.select_for_update().get(pk=registration.pk)


@transaction.atomic
def change_choices(
    registration: Registration, *, offering_ids: Sequence[int], now: datetime | None = None
) -> Outcome:
    """Replace the session choices; unchanged choices keep their seat or queue place."""
    seats = EventSeats.open(registration.event, now=now)
    registration = _locked(registration)
    if not registration.is_active:
        raise ValidationError(_("This registration has been cancelled."), code="cancelled")
    _check_first_come(seats.event, now=now)
    offerings = validated_offerings(seats.event, offering_ids)
    wanted = {offering.pk for offering in offerings}

    current = list(registration.choices.active())
    kept = {choice.offering_id for choice in current} & wanted
    seats.release([choice for choice in current if choice.offering_id not in wanted])
    seats.claim(registration, [offering for offering in offerings if offering.pk not in kept])
    seats.write(outbox=[emails.outbox_row(registration.pk, Kind.CHANGED)])
    seats.promote()
    mail_promoted(seats.promoted)
    return Outcome(registration=registration, created=False, promoted=seats.promoted)


def _source(user):
    """Who acts: an organiser (`user`, from the admin or the organisers' pages), or else
    the participant through their personal link."""
    if user is None:
        return (HistoryEntry.Source.PARTICIPANT, None)
    return (HistoryEntry.Source.ORGANISER, user)


@transaction.atomic
def cancel_registration(registration: Registration, *, by=None) -> Outcome:
    """Cancel and free the seats at once; the first people waiting move up. `by`: the
    organiser who cancels (None: the participant)."""
    seats = EventSeats.open(registration.event).acting_as(*_source(by))
    registration = _locked(registration)
    if registration.is_active:
        seats.cancel(registration)
        seats.promote()
        emails.queue(registration.pk, Kind.CANCELLATION)
    mail_promoted(seats.promoted)
    return Outcome(registration=registration, created=False, promoted=seats.promoted)


@transaction.atomic
def fill_free_seats(event: Event) -> list[Registration]:
    """Promote waiting people into free seats, e.g. after a capacity increase."""
    seats = EventSeats.open(event)
    seats.promote()
    mail_promoted(seats.promoted)
    return seats.promoted


@transaction.atomic
def move_up(registration: Registration, *, by=None) -> Outcome:
    """Confirm a waiting registration and all its waiting session choices.

    An organiser's deliberate decision, so no capacity is checked: the event or a
    session may end up over capacity. A registration that is not waiting is left
    alone (``promoted`` stays empty), so repeating the call is safe.
    """
    seats = EventSeats.open(registration.event).acting_as(HistoryEntry.Source.ORGANISER, by)
    registration = _locked(registration)
    moved = [registration] if seats.move_up(registration) else []
    mail_promoted([*seats.promoted, *moved])
    return Outcome(registration=registration, created=False, promoted=moved)


def _organiser_change(choice, by, change):
    """Run `change(seats, choice)` for an organiser under the event's lock, then give
    freed seats to those waiting and tell everyone concerned."""
    registration = choice.registration
    seats = EventSeats.open(registration.event).acting_as(HistoryEntry.Source.ORGANISER, by)
    registration = _locked(registration)
    choice = registration.choices.active().select_related("offering").get(pk=choice.pk)
    change(seats, choice)
    seats.promote()
    emails.queue(registration.pk, Kind.CHANGED)
    mail_promoted(person for person in seats.promoted if person.pk != registration.pk)
    return Outcome(registration=registration, created=False, promoted=seats.promoted)


@transaction.atomic
def move_choice(choice, offering, *, respect_capacity=True, by=None) -> Outcome:
    """An organiser moves one session choice to another offering of the same round: a
    seat there if one is free (or regardless, without `respect_capacity`), else its
    waiting list. The seat left behind goes to the first person waiting for it."""
    if offering.cancelled_at is not None:
        raise ValidationError(_("This session has been cancelled."), code="cancelled")
    holds_session = choice.registration.choices.active().filter(session_id=offering.session_id)
    if holds_session.exclude(pk=choice.pk).exists():
        raise ValidationError(
            _("You cannot choose the same session in two rounds."), code="same_session_twice"
        )
    return _organiser_change(
        choice,
        by,
        lambda seats, held: seats.move_choice(held, offering, respect_capacity=respect_capacity),
    )


@transaction.atomic
def cancel_choice(choice, *, by=None) -> Outcome:
    """An organiser cancels one session choice; its seat goes to the first waiting."""
    return _organiser_change(choice, by, lambda seats, held: seats.release([held]))
