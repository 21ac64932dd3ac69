"""The seats of an event: every rule about who holds a seat and who waits lives here.

- **Capacity**: the event and each session offering hold at most their capacity of
  confirmed places; capacities are read under the event's lock, never from a kept copy.
- **Choices**: at most one session per round, never the same session twice, only the
  event's own offerings (``validated_offerings``), and never two sessions at the same time:
  not in overlapping rounds, nor in a round taken up by a session across several rounds
  (``check_no_clash``; ``EventSeats.claim`` checks new choices against those held).
- **Reservations**: seats kept for a group (``SeatReservation``) count as taken for everyone
  else until their release date, unless a member of that group holds them.
- **Waiting lists**: whoever finds no seat waits, first come, first served; a freed seat goes
  to the first person waiting whom it is meant for (``EventSeats.promote``).

Concurrency: ``EventSeats.open`` locks the event row (``SELECT ... FOR UPDATE``) inside the
caller's transaction. Every seat of an event is claimed or freed only while holding that
lock, so two registrations for the same event are serialised and capacities can never be
exceeded. On SQLite every transaction runs with ``BEGIN IMMEDIATE`` (see settings), which
serialises writers in the same way.

Usage, inside ``transaction.atomic()``::

    seats = EventSeats.open(event, email=email, offerings=offerings)
    seats.admit(registration)            # an event seat, or the waiting list
    seats.claim(registration, offerings) # a seat per offering, or its waiting list
    seats.write(outbox=[...])            # new rows and e-mails: one round trip
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from events.models import Event, SessionOffering

from . import seat_store
from .models import HistoryEntry, Registration, SessionChoice, Status

seats_taken = seat_store.seats_taken
Action = HistoryEntry.Action
PROMOTION = HistoryEntry.Source.PROMOTION


@dataclass(frozen=True)
class Programme:
    """What registering needs of an event besides its seats: its offerings by pk and its
    seat reservations. Callers that keep the programme (the registration form does, per
    app server until the programme changes) pass it to spare the queries; the seats and
    capacities are still read under the lock."""

    offerings: dict
    reservations: list

    @classmethod
    def of(cls, event, rounds):
        return cls(
            offerings={
                offering.pk: offering for round_ in rounds for offering in round_.offerings.all()
            },
            reservations=event_reservations(event),
        )


def event_reservations(event):
    """The seat reservations of `event` and its offerings, read once per event object."""
    try:
        return event._seat_reservations
    except AttributeError:
        event._seat_reservations = list(event.seat_reservations.all())
        return event._seat_reservations


def validated_offerings(event, offering_ids, known=None):
    """The chosen offerings, checked: this event's, one per round, no session twice.

    `known` ({pk: offering}, e.g. as the registration form keeps them) saves the query
    when it holds every chosen offering.
    """
    ids = [offering_id for offering_id in offering_ids if offering_id]
    if known is not None and all(pk in known for pk in ids):
        offerings = [known[pk] for pk in set(ids) if known[pk].event_id == event.pk]
    else:
        offerings = list(
            SessionOffering.objects.current()
            .filter(event=event, pk__in=ids)
            .select_related("session", "round", "last_round")
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
    check_no_clash(event, offerings)
    return sorted(offerings, key=lambda offering: offering.pk)


def first_clash(event, offerings, held=()):
    """The first pair (earlier, later) of `offerings`, or of one of them and one of `held`,
    that one person cannot attend both; None when there is none."""
    earlier = list(held)
    for offering in sorted(offerings, key=lambda offering: offering.interval(event.start_date)):
        for other in earlier:
            if other.pk != offering.pk and offering.clashes_with(other, event.start_date):
                return other, offering
        earlier.append(offering)
    return None


def check_no_clash(event, offerings, held=()):
    """Raise ValidationError(code="overlapping_times") unless the person can attend all of
    `offerings` (and `held`, the offerings they hold already): never two at the same time."""
    clash = first_clash(event, offerings, held)
    if clash is not None:
        raise ValidationError(
            _("%(first)s and %(second)s take place at the same time. Choose one of them.")
            % {"first": clash[0].session.title, "second": clash[1].session.title},
            code="overlapping_times",
        )


def active_reservations(reservations, now):
    """The reservations of `reservations` not yet released at `now`."""
    return [reservation for reservation in reservations if reservation.released_at > now]


def kept_seats(capacity, held, reservations):
    """[(reservation, seats)]: the seats each of `reservations` (active ones) still keeps for
    its group out of `capacity`, those its members hold (`held`: confirmed seats per role)
    not counted. They count as taken for everyone outside the group."""
    kept = []
    for reservation in reservations:
        seats = reservation.reserved_seats(capacity) - held.get(reservation.role, 0)
        if seats > 0:
            kept.append((reservation, seats))
    return kept


def seats_shown(capacity, held, reservations, now):
    """(left, kept) as a visitor whose group is not known is told: `left` seats free in all
    (`held`: confirmed seats per role), and [(reservation, seats)] of them kept for a group
    (``kept_seats``), never more than `left` together."""
    left = max(capacity - sum(held.values()), 0)
    kept = []
    for reservation, seats in kept_seats(capacity, held, active_reservations(reservations, now)):
        seats = min(seats, left - sum(seats for _reservation, seats in kept))
        if seats > 0:
            kept.append((reservation, seats))
    return left, kept


@dataclass
class SeatBook:
    """Confirmed seats per participant role, and the capacity, of the event (holder
    ``None``) and of each of its offerings (holder: the offering's pk).

    Read under the event lock and kept up to date while seats are handed out, so one
    transaction sees its own changes.
    """

    capacities: dict
    counts: dict
    reservations: dict = field(default_factory=dict)

    def has_seat(self, holder, role):
        capacity = self.capacities[holder]
        if capacity is None:
            return True
        held = self.counts[holder]
        kept_for_others = sum(
            seats
            for reservation, seats in kept_seats(capacity, held, self.reservations.get(holder, ()))
            if reservation.role != role
        )
        return sum(held.values()) + kept_for_others < capacity

    def take(self, holder, role):
        self.counts[holder][role] += 1


def lock_event(event):
    """`event`, read afresh under its row lock: for the services that must not run beside
    a change of its seats (the lottery, mailings), and for ``EventSeats.open``."""
    locked = seat_store.lock_row(Event, event.pk)
    if locked is None:
        raise Event.DoesNotExist(f"Event {event.pk} no longer exists.")
    return locked


class EventSeats:
    """An event's seats, opened under its row lock for the rest of the transaction.

    ``event`` is the event as read under the lock; ``existing`` this event's registration
    for the address given to ``open`` (cancelled or not), if any; ``promoted`` everyone
    who got a seat from a waiting list since (for the caller to tell them). New rows wait
    in the object until ``write``.
    """

    def __init__(self, event, *, reservations, now):
        self.event = event
        self.now = now
        self.existing = None
        self.promoted = []
        self._reservations = reservations
        self._book = None  # read when first needed
        self._new_rows = []
        # Registrations admitted here hold no choices but those claimed here (by pk).
        self._without_choices = set()
        self._claimed = {}
        # Who changes the seats, for the registrations' history (``acting_as``).
        self.source = HistoryEntry.Source.PARTICIPANT
        self.actor = None
        self._history = []
        self._placements = {}  # {offering pk: (round, session, cancelled)} read under the lock
        self._new_key = None  # a new registration's key, read with its address (PostgreSQL)

    def acting_as(self, source, actor=None):
        """Record the following changes in the history as made from `source` (a
        HistoryEntry.Source) by the user `actor`; returns the seats."""
        self.source, self.actor = source, actor
        return self

    def note(self, registration_id, action, *, offering=None, status="", detail="", source=None):
        """A history entry for a change made here (or by the caller under this lock),
        written with the next ``write`` or at once by the methods that write at once."""
        self._history.append(
            HistoryEntry(
                registration_id=registration_id,
                source=source or self.source,
                action=action,
                offering_id=getattr(offering, "pk", offering),
                status=status,
                detail=detail[:300],
                actor=self.actor,
            )
        )

    def write_history(self):
        """Store the history entries noted since the last write."""
        if self._history:
            seat_store.insert_rows(self._history)
            self._history = []

    @classmethod
    def open(cls, event, *, email=None, offerings=None, reservations=None, now=None):
        """Lock `event`. With `email` (registering), also read that address's registration and
        the seats of the event and `offerings` in one statement. `reservations`: the event's
        seat reservations, when the caller keeps them."""
        locked = lock_event(event)
        if reservations is None:
            reservations = list(locked.seat_reservations.all())
        seats = cls(locked, reservations=reservations, now=now or timezone.now())
        if any(reservation.released_at <= seats.now for reservation in reservations):
            # Seats whose reservation was released go to those waiting before any newcomer
            # (the cron job release_reserved_seats does the same where nobody registers).
            seats.promote()
        if email is not None:
            address, counts, capacities, placements, new_key = seat_store.address_and_seats(
                locked.pk,
                email,
                [offering.pk for offering in offerings or ()],
                # Seats per role matter only where some are reserved for a group.
                by_role=bool(reservations),
            )
            seats.existing = Registration.objects.get(pk=address) if address else None
            seats._new_key = new_key
            seats._book = seats._new_book(counts, capacities)
            seats._placements = placements
        return seats

    def admit(self, registration):
        """Give `registration` (new, or a cancelled one registering anew) an event seat if one
        is free, or a place at the end of the event's waiting list. A reactivated one drops
        its old choices and preferences and queues anew; a new one is stored by ``write``."""
        book = self._seat_book()
        if book.has_seat(None, registration.role):
            registration.status = Status.CONFIRMED
            book.take(None, registration.role)
        else:
            registration.status = Status.WAITING
        if registration._state.adding:
            if registration.pk is None:
                registration.pk, self._new_key = self._new_key, None
            if registration.pk is None:  # no key reserved (not PostgreSQL): store it first
                seat_store.insert_rows([registration])
            else:
                self._new_rows.insert(0, [registration])
            self._without_choices.add(registration.pk)
            self.note(registration.pk, Action.REGISTERED, status=registration.status)
            return registration
        registration.created_at = timezone.now()  # a reactivated registration queues anew
        registration.save()
        registration.choices.all().delete()
        registration.preferences.all().delete()
        self._without_choices.add(registration.pk)
        self.note(registration.pk, Action.REGISTERED, status=registration.status)
        return registration

    def claim(self, registration, offerings):
        """A choice of each of `offerings` for `registration`: with a seat where one is free
        and the registration holds an event seat, else on that offering's waiting list.
        Stored by ``write``. Raises ValidationError when one of them takes place at the
        same time as a session the registration holds."""
        held = self._claimed.setdefault(registration.pk, [])
        if registration.pk not in self._without_choices:
            held = held + [
                choice.offering
                for choice in registration.choices.active().select_related(
                    "offering__session", "offering__round", "offering__last_round"
                )
            ]
        check_no_clash(self.event, offerings, held)
        self._claimed[registration.pk].extend(offerings)
        book = self._seat_book()
        placed = self._placed(offerings)
        choices = []
        for offering in offerings:
            round_id, session_id = placed[offering.pk]
            confirmed = registration.status == Status.CONFIRMED and book.has_seat(
                offering.pk, registration.role
            )
            if confirmed:
                book.take(offering.pk, registration.role)
            choices.append(
                SessionChoice(
                    registration=registration,
                    offering=offering,
                    round_id=round_id,
                    session_id=session_id,
                    status=Status.CONFIRMED if confirmed else Status.WAITING,
                )
            )
            self.note(registration.pk, Action.CHOSEN, offering=offering, status=choices[-1].status)
        self._new_rows.append(choices)
        return choices

    def _placed(self, offerings):
        """{pk: (round, session)} of `offerings` as they are under the lock: one moved
        by a programme change since the caller read it is booked where it is now, unless
        it was cancelled or now clashes with another choice."""
        placed = {}
        for offering in offerings:
            round_id, session_id, cancelled = self._placements.get(
                offering.pk, (offering.round_id, offering.session_id, False)
            )
            if cancelled:
                raise ValidationError(
                    _("%(session)s has just been cancelled. Choose another session.")
                    % {"session": offering.session.title},
                    code="cancelled",
                )
            placed[offering.pk] = (round_id, session_id)
        rounds = [round_id for round_id, _session in placed.values()]
        sessions = [session_id for _round, session_id in placed.values()]
        if len(set(rounds)) != len(rounds) or len(set(sessions)) != len(sessions):
            raise ValidationError(
                _("The programme changed just now. Check your choices and send them again."),
                code="programme_changed",
            )
        return placed

    def release(self, choices):
        """Give up `choices` (their seats or queue places); ``promote`` fills the seats."""
        SessionChoice.objects.filter(pk__in=[choice.pk for choice in choices]).update(
            status=Status.CANCELLED, updated_at=timezone.now()
        )
        for choice in choices:
            self.note(choice.registration_id, Action.RELEASED, offering=choice.offering_id)
        self.write_history()
        self._book = None

    def cancel(self, registration):
        """Cancel `registration` with its choices; ``promote`` fills the seats."""
        registration.status = Status.CANCELLED
        registration.cancelled_at = self.now
        registration.save(update_fields=["status", "cancelled_at", "updated_at"])
        registration.choices.active().update(status=Status.CANCELLED, updated_at=self.now)
        self.note(registration.pk, Action.CANCELLED, status=Status.CANCELLED)
        self.write_history()
        self._book = None

    def move_up(self, registration):
        """An organiser's decision: confirm a waiting `registration` and its waiting choices,
        whatever the capacity (the event or a session may end up over it). Returns whether
        anything changed: a registration that is not waiting is left alone."""
        if registration.status != Status.WAITING:
            return False
        registration.status = Status.CONFIRMED
        registration.save(update_fields=["status", "updated_at"])
        registration.choices.filter(status=Status.WAITING).update(
            status=Status.CONFIRMED, updated_at=timezone.now()
        )
        self.note(registration.pk, Action.CONFIRMED, status=Status.CONFIRMED)
        self.write_history()
        self._book = None
        return True

    def to_waiting_top(self, choices):
        """An organiser's decision when an offering's seats were cut: these confirmed
        `choices` (of one offering) go to the top of its waiting list, in the order they
        were made, ahead of everyone already waiting."""
        if not choices:
            return
        ahead = (
            SessionChoice.objects.waiting()
            .filter(offering_id=choices[0].offering_id)
            .values_list("created_at", flat=True)
            .first()
        )
        start = min(ahead or self.now, self.now)
        ordered = sorted(choices, key=lambda choice: (choice.created_at, choice.pk))
        self._queue(
            (choice, start - timedelta(microseconds=len(ordered) - place))
            for place, choice in enumerate(ordered)
        )

    def to_waiting_end(self, choices):
        """An organiser's decision when a moved offering gave someone two sessions at once:
        these `choices` give up their seat and queue at the end of their offering's
        waiting list, behind everyone already waiting (nobody waiting is passed);
        ``promote`` hands the seats out again in that order."""
        self._queue((choice, self.now) for choice in choices)

    def _queue(self, placed):
        """Put each (choice, moment) on its offering's waiting list at that moment: the
        queue is ordered by when a choice was made (SeatQuerySet.waiting)."""
        for choice, moment in placed:
            choice.status = Status.WAITING
            choice.created_at = moment
            choice.save(update_fields=["status", "created_at", "updated_at"])
            self.note(
                choice.registration_id,
                Action.WAITING,
                offering=choice.offering_id,
                status=Status.WAITING,
            )
        self.write_history()
        self._book = None

    def cancel_offering(self, offering):
        """An organiser's decision: `offering` no longer runs. Everyone holding a seat or
        a queue place in it is released (to choose again); no seat of another offering
        is given out here, so nobody passes that offering's waiting list."""
        choices = list(offering.choices.active())
        self.release(choices)
        offering.cancelled_at = self.now
        offering.save(update_fields=["cancelled_at"])
        return choices

    def move_choice(self, choice, offering, *, respect_capacity=True):
        """An organiser moves one `choice` to another `offering` of the same round: with a
        seat where one is free (or whatever the capacity, when not `respect_capacity`),
        else on that offering's waiting list. Returns the new choice."""
        if offering.round_id != choice.round_id or offering.event_id != self.event.pk:
            raise ValidationError(_("Choose a session of the same round."), code="other_round")
        registration = choice.registration
        self.release([choice])
        book = self._seat_book()
        free = book.has_seat(offering.pk, registration.role) or not respect_capacity
        confirmed = registration.status == Status.CONFIRMED and free
        moved = SessionChoice.objects.create(
            registration=registration,
            offering=offering,
            round_id=offering.round_id,
            session_id=offering.session_id,
            status=Status.CONFIRMED if confirmed else Status.WAITING,
        )
        self.note(registration.pk, Action.MOVED, offering=offering, status=moved.status)
        self.write_history()
        self._book = None
        return moved

    def promote(self):
        """Fill free seats from the waiting lists: first come, first served, event seats
        before session seats. Someone a reserved seat is not meant for is passed over (and
        keeps their place) while the next one may take it. Returns the registrations that
        got an event seat or a session seat now (``promoted`` keeps them all)."""
        event = self.event
        offerings = list(event.offerings.order_by("pk"))
        book = self._new_book(
            seat_store.seats_taken(event.pk),
            {offering.pk: offering.capacity for offering in offerings},
        )
        promoted = {}
        for registration in event.registrations.waiting():
            if not book.has_seat(None, registration.role):
                continue
            registration.status = Status.CONFIRMED
            registration.save(update_fields=["status", "updated_at"])
            book.take(None, registration.role)
            promoted[registration.pk] = registration
            self.note(registration.pk, Action.CONFIRMED, status=Status.CONFIRMED, source=PROMOTION)
        for offering in offerings:
            waiting = (
                SessionChoice.objects.waiting()
                .filter(offering=offering, registration__status=Status.CONFIRMED)
                .select_related("registration")
            )
            for choice in waiting:
                role = choice.registration.role
                if not book.has_seat(offering.pk, role):
                    continue
                choice.status = Status.CONFIRMED
                choice.save(update_fields=["status", "updated_at"])
                book.take(offering.pk, role)
                promoted.setdefault(choice.registration_id, choice.registration)
                self.note(
                    choice.registration_id,
                    Action.CONFIRMED,
                    offering=offering,
                    status=Status.CONFIRMED,
                    source=PROMOTION,
                )
        self.write_history()
        self._book = book
        self.promoted.extend(promoted.values())
        return list(promoted.values())

    def write(self, *, outbox=()):
        """Store the new rows, the history entries and the e-mails `outbox` (unsaved outbox
        rows) in one round trip where the database allows."""
        seat_store.insert_groups(*self._new_rows, self._history, list(outbox))
        self._new_rows = []
        self._history = []

    def _seat_book(self):
        if self._book is None:
            offerings = self.event.offerings.values_list("pk", "capacity")
            self._book = self._new_book(seat_store.seats_taken(self.event.pk), dict(offerings))
        return self._book

    def _new_book(self, counts, capacities):
        active = {}
        for reservation in active_reservations(self._reservations, self.now):
            active.setdefault(reservation.offering_id, []).append(reservation)
        return SeatBook(
            capacities={None: self.event.capacity, **capacities}, counts=counts, reservations=active
        )
