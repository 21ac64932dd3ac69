"""Registering, changing and cancelling: every write that claims or frees a seat.

Concurrency: each function locks the event row (``SELECT ... FOR UPDATE``) first,
inside one transaction. Every seat of an event (the event's own capacity and each
session offering's) is claimed or freed only while holding that lock, so two
registrations for the same event are serialised and capacities can never be
exceeded. On SQLite the database runs every transaction with ``BEGIN IMMEDIATE``
(see settings), which serialises writers in the same way.

E-mails are sent only after the transaction commits.
"""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from events.models import Event, SessionOffering

from . import emails
from .models import Mailing, Registration, SessionChoice, Status

logger = logging.getLogger(__name__)


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


def _lock_event(event):
    return Event.objects.select_for_update().get(pk=event.pk)


def check_registration_open(event, *, now=None):
    if not event.is_published:
        raise ValidationError(_("This event is not open for registration."), code="not_published")
    state = event.registration_state(now)
    if state == "not_yet_open":
        raise ValidationError(_("Registration has not opened yet."), code="not_yet_open")
    if state in {"closed", "unavailable"}:
        raise ValidationError(_("Registration for this event is closed."), code="closed")


def _validated_offerings(event, offering_ids):
    """The chosen offerings, checked: this event's, one per round, no session twice."""
    ids = [offering_id for offering_id in offering_ids if offering_id]
    offerings = list(
        SessionOffering.objects.filter(event=event, pk__in=ids).select_related("session", "round")
    )
    if len(offerings) != len(set(ids)) or len(ids) != len(set(ids)):
        raise ValidationError(_("Choose sessions of this event only."), code="invalid_choice")
    rounds = [offering.round_id for offering in offerings]
    if len(rounds) != len(set(rounds)):
        raise ValidationError(_("Choose at most one session per round."), code="two_in_round")
    sessions = [offering.session_id for offering in offerings]
    if len(sessions) != len(set(sessions)):
        raise ValidationError(
            _("You cannot choose the same session in two rounds."), code="same_session_twice"
        )
    return sorted(offerings, key=lambda offering: offering.pk)


@dataclass
class SeatBook:
    """Confirmed seats per participant role, for the event and each of its offerings.

    Read under the event lock and kept up to date while seats are handed out, so
    one transaction sees its own changes. The holder ``None`` is the event itself.
    A seat reserved for a group (``SeatReservation``) counts as taken for everyone
    else until its release date, unless a member of that group holds it.
    """

    reservations: dict
    counts: dict

    @classmethod
    def for_event(cls, event, *, now=None):
        now = now or timezone.now()
        reservations = {}
        for reservation in event.seat_reservations.filter(released_at__gt=now):
            reservations.setdefault(reservation.offering_id, []).append(reservation)
        counts = defaultdict(Counter)
        for row in (
            event.registrations.filter(status=Status.CONFIRMED)
            .values("role")
            .annotate(n=Count("pk"))
        ):
            counts[None][row["role"]] = row["n"]
        for row in (
            SessionChoice.objects.filter(offering__event=event, status=Status.CONFIRMED)
            .values("offering", "registration__role")
            .annotate(n=Count("pk"))
        ):
            counts[row["offering"]][row["registration__role"]] = row["n"]
        return cls(reservations=reservations, counts=counts)

    def has_seat(self, holder, capacity, role):
        if capacity is None:
            return True
        held = self.counts[holder]
        kept_for_others = sum(
            max(reservation.reserved_seats(capacity) - held[reservation.role], 0)
            for reservation in self.reservations.get(holder, ())
            if reservation.role != role
        )
        return sum(held.values()) + kept_for_others < capacity

    def take(self, holder, role):
        self.counts[holder][role] += 1


def _add_choices(registration, offerings, book):
    choices = []
    for offering in offerings:
        confirmed = registration.status == Status.CONFIRMED and book.has_seat(
            offering.pk, offering.capacity, registration.role
        )
        if confirmed:
            book.take(offering.pk, registration.role)
        choices.append(
            SessionChoice.objects.create(
                registration=registration,
                offering=offering,
                round_id=offering.round_id,
                session_id=offering.session_id,
                status=Status.CONFIRMED if confirmed else Status.WAITING,
            )
        )
    return choices


@transaction.atomic
def register_attendee(event, *, person, offering_ids=(), now=None):
    """Register `person` for `event` with one offering per round.

    Returns an Outcome; ``created`` is False when the address already has an active
    registration, which is then left untouched (the caller mails its link).
    Raises ValidationError (with a code) when registration is closed or a choice
    breaks the rules.
    """
    event = _lock_event(event)
    check_registration_open(event, now=now)
    offerings = _validated_offerings(event, offering_ids)
    email = person.email.strip().lower()

    registration = Registration.objects.filter(event=event, email=email).first()
    if registration and registration.is_active:
        transaction.on_commit(partial(emails.send_personal_link, registration.pk))
        return Outcome(registration=registration, created=False)

    registration = registration or Registration(event=event, email=email)
    registration.name = person.name
    registration.organisation = person.organisation
    registration.function = person.function
    registration.role = person.role
    registration.question = person.question
    registration.language = person.language
    registration.consented_at = timezone.now()
    registration.cancelled_at = None
    registration.created_at = timezone.now()  # a reactivated registration queues anew
    book = SeatBook.for_event(event, now=now)
    if book.has_seat(None, event.capacity, person.role):
        registration.status = Status.CONFIRMED
        book.take(None, person.role)
    else:
        registration.status = Status.WAITING
    registration.full_clean(exclude=["token", "event"], validate_unique=False)
    registration.save()
    registration.choices.all().delete()
    _add_choices(registration, offerings, book)

    transaction.on_commit(partial(emails.send_confirmation, registration.pk))
    return Outcome(registration=registration, created=True)


@transaction.atomic
def register_for_series(events_and_choices, *, person, now=None):
    """Register for several events at once: all succeed or none (one transaction).

    `events_and_choices` is a list of (event, offering_ids). Events are locked in
    primary-key order so concurrent series registrations never deadlock.
    """
    outcomes = []
    for event, offering_ids in sorted(events_and_choices, key=lambda pair: pair[0].pk):
        outcomes.append(register_attendee(event, person=person, offering_ids=offering_ids, now=now))
    return outcomes


@transaction.atomic
def change_choices(registration, *, offering_ids, now=None):
    """Replace the session choices; unchanged choices keep their seat or queue place."""
    event = _lock_event(registration.event)
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if not registration.is_active:
        raise ValidationError(_("This registration has been cancelled."), code="cancelled")
    check_registration_open(event, now=now)
    offerings = _validated_offerings(event, offering_ids)
    wanted = {offering.pk for offering in offerings}

    current = list(registration.choices.active())
    dropped = [choice for choice in current if choice.offering_id not in wanted]
    kept = {choice.offering_id for choice in current} & wanted
    SessionChoice.objects.filter(pk__in=[choice.pk for choice in dropped]).update(
        status=Status.CANCELLED, updated_at=timezone.now()
    )
    _add_choices(
        registration,
        [offering for offering in offerings if offering.pk not in kept],
        SeatBook.for_event(event, now=now),
    )
    promoted = _fill_free_seats(event, now=now)

    transaction.on_commit(partial(emails.send_confirmation, registration.pk, changed=True))
    _mail_promoted(promoted)
    return Outcome(registration=registration, created=False, promoted=promoted)


@transaction.atomic
def cancel_registration(registration):
    """Cancel and free the seats at once; the first people waiting move up."""
    event = _lock_event(registration.event)
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if not registration.is_active:
        return Outcome(registration=registration, created=False)
    now = timezone.now()
    registration.status = Status.CANCELLED
    registration.cancelled_at = now
    registration.save(update_fields=["status", "cancelled_at", "updated_at"])
    registration.choices.active().update(status=Status.CANCELLED, updated_at=now)
    promoted = _fill_free_seats(event)
    transaction.on_commit(partial(emails.send_cancellation, registration.pk))
    _mail_promoted(promoted)
    return Outcome(registration=registration, created=False, promoted=promoted)


@transaction.atomic
def fill_free_seats(event):
    """Promote waiting people into free seats, e.g. after a capacity increase."""
    event = _lock_event(event)
    promoted = _fill_free_seats(event)
    _mail_promoted(promoted)
    return promoted


@transaction.atomic
def move_up(registration):
    """Confirm a waiting registration and all its waiting session choices.

    An organiser's deliberate decision, so no capacity is checked: the event or a
    session may end up over capacity. A registration that is not waiting is left
    alone (``promoted`` stays empty), so repeating the call is safe.
    """
    _lock_event(registration.event)
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if registration.status != Status.WAITING:
        return Outcome(registration=registration, created=False)
    registration.status = Status.CONFIRMED
    registration.save(update_fields=["status", "updated_at"])
    registration.choices.filter(status=Status.WAITING).update(
        status=Status.CONFIRMED, updated_at=timezone.now()
    )
    _mail_promoted([registration])
    return Outcome(registration=registration, created=False, promoted=[registration])


def _fill_free_seats(event, *, now=None):
    """Under the event lock: first come, first served, event seats before session seats.

    People waiting are taken in queue order; someone a reserved seat is not meant
    for is passed over (and keeps their place) while the next one may take it.
    Returns the registrations that got an event seat or a session seat.
    """
    book = SeatBook.for_event(event, now=now)
    promoted = {}
    for registration in event.registrations.waiting():
        if not book.has_seat(None, event.capacity, registration.role):
            continue
        registration.status = Status.CONFIRMED
        registration.save(update_fields=["status", "updated_at"])
        book.take(None, registration.role)
        promoted[registration.pk] = registration

    for offering in event.offerings.order_by("pk"):
        waiting = (
            SessionChoice.objects.waiting()
            .filter(offering=offering, registration__status=Status.CONFIRMED)
            .select_related("registration")
        )
        for choice in waiting:
            role = choice.registration.role
            if not book.has_seat(offering.pk, offering.capacity, role):
                continue
            choice.status = Status.CONFIRMED
            choice.save(update_fields=["status", "updated_at"])
            book.take(offering.pk, role)
            promoted.setdefault(choice.registration_id, choice.registration)
    return list(promoted.values())


def _mail_promoted(registrations):
    for registration in registrations:
        transaction.on_commit(partial(emails.send_promotion, registration.pk))


def waiting_position(choice_or_registration):
    """1-based place on the waiting list, or None when not waiting."""
    item = choice_or_registration
    if item.status != Status.WAITING:
        return None
    if isinstance(item, SessionChoice):
        queue = SessionChoice.objects.waiting().filter(offering_id=item.offering_id)
    else:
        queue = Registration.objects.waiting().filter(event_id=item.event_id)
    before = queue.filter(
        Q(created_at__lt=item.created_at) | Q(created_at=item.created_at, pk__lt=item.pk)
    )
    return before.count() + 1


def mailing_recipients(mailing):
    """The confirmed participants of the mailing's event, or of its one offering."""
    recipients = Registration.objects.filter(event_id=mailing.event_id, status=Status.CONFIRMED)
    if mailing.offering_id:
        recipients = recipients.filter(
            choices__offering_id=mailing.offering_id, choices__status=Status.CONFIRMED
        ).distinct()
    return recipients.order_by("created_at", "pk")


@transaction.atomic
def send_mailing(mailing, *, user):
    """Send `mailing` once, to each confirmed recipient in a separate e-mail after commit.

    Returns the number of recipients. A mailing that was sent already is left alone
    (returns its stored count), so repeating the call never mails anyone twice.
    Raises ValidationError(code="no_recipients") when nobody would receive it.
    """
    _lock_event(mailing.event)
    mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
    if mailing.sent_at is not None:
        return mailing.recipient_count
    recipient_ids = list(mailing_recipients(mailing).values_list("pk", flat=True))
    if not recipient_ids:
        raise ValidationError(
            _("Nobody would receive this mailing: there are no confirmed participants."),
            code="no_recipients",
        )
    mailing.sent_at = timezone.now()
    mailing.recipient_count = len(recipient_ids)
    mailing.save(update_fields=["sent_at", "recipient_count"])
    # Robust: a mail server failure is logged and does not turn the committed send into an error.
    transaction.on_commit(partial(emails.send_mailing, mailing.pk, recipient_ids), robust=True)
    # Ids and counts only: no personal data in logs.
    logger.info(
        "Mailing %s queued by user %s for %s recipients", mailing.pk, user.pk, len(recipient_ids)
    )
    return mailing.recipient_count
