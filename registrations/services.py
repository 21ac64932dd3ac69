"""Registering, changing and cancelling: every write that claims or frees a seat.

Concurrency: each function locks the event row (``SELECT ... FOR UPDATE``) first,
inside one transaction. Every seat of an event (the event's own capacity and each
session offering's) is claimed or freed only while holding that lock, so two
registrations for the same event are serialised and capacities can never be
exceeded. On SQLite the database runs every transaction with ``BEGIN IMMEDIATE``
(see settings), which serialises writers in the same way.

E-mails are sent only after the transaction commits.
"""

import datetime
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config import fastinsert, pagecache
from events.models import Event, SessionOffering

from . import allocation, emails
from .models import (
    AllocationRun,
    Mailing,
    Preference,
    QueuedEmail,
    Registration,
    SessionChoice,
    Status,
)

logger = logging.getLogger(__name__)

# Registering an address that is already registered mails its personal link again, but
# at most this often, so that registering someone over and over cannot flood an inbox.
LINK_RESEND_INTERVAL = datetime.timedelta(minutes=15)


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
    """The event, read afresh under its row lock (``SELECT ... FOR UPDATE``)."""
    # Written out (config.fastinsert): every registration waits for this lock, and the
    # ORM's query building cost more than the query.
    locked = fastinsert.lock(Event, event.pk)
    if locked is None:
        raise Event.DoesNotExist(f"Event {event.pk} no longer exists.")
    return locked


def check_registration_open(event, *, now=None):
    if not event.is_published:
        raise ValidationError(_("This event is not open for registration."), code="not_published")
    state = event.registration_state(now, count_seats=False)
    if state == "not_yet_open":
        raise ValidationError(_("Registration has not opened yet."), code="not_yet_open")
    if state in {"closed", "unavailable"}:
        raise ValidationError(_("Registration for this event is closed."), code="closed")
    if state == "allocating":
        raise ValidationError(
            _("Places are being assigned now. Registration opens again after that."),
            code="allocating",
        )


def _check_first_come(event, *, now=None):
    check_registration_open(event, now=now)
    if event.registration_state(now, count_seats=False) == "preferences":
        raise ValidationError(
            _("This event takes preferences: rank your sessions instead."), code="preferences"
        )


def _check_preferences_open(event, *, now=None):
    check_registration_open(event, now=now)
    if event.registration_state(now, count_seats=False) != "preferences":
        raise ValidationError(
            _("Preferences can no longer be given for this event."), code="preferences_closed"
        )


@dataclass(frozen=True)
class Programme:
    """What registering needs of an event besides its seats: its offerings by pk and its
    seat reservations. Callers that keep the programme (the registration form does, per
    app server until the programme changes) pass it to spare the queries."""

    offerings: dict
    reservations: list

    @classmethod
    def of(cls, event, rounds):
        return cls(
            offerings={
                offering.pk: offering for round_ in rounds for offering in round_.offerings.all()
            },
            reservations=list(event.seat_reservations.all()),
        )


def _validated_offerings(event, offering_ids, known=None):
    """The chosen offerings, checked: this event's, one per round, no session twice.

    `known` ({pk: offering}, e.g. as the registration form keeps them) saves the query
    when it holds every chosen offering.
    """
    ids = [offering_id for offering_id in offering_ids if offering_id]
    if known is not None and all(pk in known for pk in ids):
        offerings = [known[pk] for pk in set(ids) if known[pk].event_id == event.pk]
    else:
        offerings = list(
            SessionOffering.objects.filter(event=event, pk__in=ids).select_related(
                "session", "round"
            )
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


def seats_taken(event_pk, offering_pks=None, *, by_role=True):
    """{None: Counter(role: seats), offering pk: Counter(role: seats)} of confirmed seats:
    the event's own and those of its offerings (only `offering_pks`, when given).

    Without `by_role` each Counter holds the total under the role None: enough to show
    the seats left, and to hand out seats where none is reserved for a group, and
    cheaper, as the offerings' counts then need no join with the registrations.

    One query, written out: it runs under the event lock when registering and on every
    view of the registration form, and the ORM took ten times longer to build it than
    PostgreSQL to answer it.
    """
    sql, params = _seats_sql(event_pk, offering_pks, by_role=by_role)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _seat_counts(cursor.fetchall())


def _seats_sql(event_pk, offering_pks, *, by_role=True):
    registrations = connection.ops.quote_name(Registration._meta.db_table)
    choices = connection.ops.quote_name(SessionChoice._meta.db_table)
    offerings = connection.ops.quote_name(SessionOffering._meta.db_table)
    if offering_pks is None:
        which = f"IN (SELECT id FROM {offerings} WHERE event_id = %s)"
        which_params = [event_pk]
    elif offering_pks:
        which = f"IN ({', '.join(['%s'] * len(offering_pks))})"
        which_params = list(offering_pks)
    else:
        which, which_params = "IS NULL", []  # no offerings asked for: none match
    if by_role:
        sql = (
            f"SELECT NULL, r.role, COUNT(*) FROM {registrations} r "  # noqa: S608 - table names
            "WHERE r.event_id = %s AND r.status = %s GROUP BY r.role "
            "UNION ALL "
            f"SELECT c.offering_id, r.role, COUNT(*) FROM {choices} c "
            f"JOIN {registrations} r ON r.id = c.registration_id "
            f"WHERE c.status = %s AND c.offering_id {which} GROUP BY c.offering_id, r.role"
        )
    else:
        sql = (
            f"SELECT NULL, NULL, COUNT(*) FROM {registrations} r "  # noqa: S608 - table names
            "WHERE r.event_id = %s AND r.status = %s "
            "UNION ALL "
            f"SELECT c.offering_id, NULL, COUNT(*) FROM {choices} c "
            f"WHERE c.status = %s AND c.offering_id {which} GROUP BY c.offering_id"
        )
    confirmed = Status.CONFIRMED.value
    return sql, [event_pk, confirmed, confirmed, *which_params]


def _seat_counts(rows):
    counts = defaultdict(Counter)
    for holder, role, n in rows:
        counts[holder][role] += n
    return counts


def _address_and_seats(event, email, offerings, *, by_role=True):
    """Under the lock, in one statement: the event's registration for `email`, cancelled
    or not (or None), and the seats taken of the event and `offerings` (see
    seats_taken)."""
    seats_sql, params = _seats_sql(
        event.pk, [offering.pk for offering in offerings], by_role=by_role
    )
    registrations = connection.ops.quote_name(Registration._meta.db_table)
    sql = (
        f"SELECT 0, NULL, NULL, id FROM {registrations} "  # noqa: S608 - table name
        "WHERE event_id = %s AND email = %s "
        f"UNION ALL SELECT 1, seats.* FROM ({seats_sql}) seats"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [event.pk, email, *params])
        rows = cursor.fetchall()
    address = next((row[3] for row in rows if row[0] == 0), None)
    existing = Registration.objects.get(pk=address) if address else None
    return existing, _seat_counts(row[1:] for row in rows if row[0] == 1)


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
    def for_event(cls, event, *, now=None, offerings=None, reservations=None, counts=None):
        """The seats of `event`; of its own and of `offerings` only, when given
        (a registration needs no other counts). `counts`: seats_taken() of the same,
        when the caller has just read them under the lock."""
        now = now or timezone.now()
        if reservations is None:
            reservations = list(event.seat_reservations.all())
        active = {}
        for reservation in reservations:
            if reservation.released_at > now:
                active.setdefault(reservation.offering_id, []).append(reservation)
        if counts is None:
            counts = seats_taken(
                event.pk, None if offerings is None else [offering.pk for offering in offerings]
            )
        return cls(reservations=active, counts=counts)

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
    return fastinsert.insert(_new_choices(registration, offerings, book))


def _new_choices(registration, offerings, book):
    """The registration's choices of `offerings`, with a seat where one is free (taken
    from `book`); not yet stored."""
    choices = []
    for offering in offerings:
        confirmed = registration.status == Status.CONFIRMED and book.has_seat(
            offering.pk, offering.capacity, registration.role
        )
        if confirmed:
            book.take(offering.pk, registration.role)
        choices.append(
            SessionChoice(
                registration=registration,
                offering=offering,
                round_id=offering.round_id,
                session_id=offering.session_id,
                status=Status.CONFIRMED if confirmed else Status.WAITING,
            )
        )
    return choices


@transaction.atomic
def register_attendee(event, *, person, offering_ids=(), now=None, programme=None):
    """Register `person` for `event` with one offering per round.

    `programme` (a Programme of the event, optional) spares looking up the chosen
    offerings and the seat reservations.

    Returns an Outcome; ``created`` is False when the address already has an active
    registration, which is then left untouched (the caller mails its link).
    Raises ValidationError (with a code) when registration is closed or a choice
    breaks the rules.

    When many register at once, every registration for the event waits for this
    one's lock: what can be done before it (checking the choices and the person's
    details, taking the registration's key) is, and the locked part takes four round
    trips on PostgreSQL (lock, address and seats, inserts, commit).
    """
    offerings = _validated_offerings(
        event, offering_ids, known=programme.offerings if programme else None
    )
    email = person.email.strip().lower()
    # Filled in, validated and given its pk before the lock; under it, one statement
    # reads the address and the seats, and one round trip stores the rows.
    registration = _filled_in(Registration(event=event, email=email), person)
    fastinsert.reserve_pk(registration)
    event = _lock_event(event)
    _check_first_come(event, now=now)

    if programme is None:
        reservations = list(event.seat_reservations.all())
    else:
        reservations = programme.reservations
    # Seats per role matter only where some are reserved for a group.
    existing, taken = _address_and_seats(event, email, offerings, by_role=bool(reservations))
    if existing and existing.is_active:
        _mail_link_again(existing)
        return Outcome(registration=existing, created=False)
    if _serve_queue_after_release(event, now=now, reservations=reservations):
        taken = None  # people moved up: count again
    book = SeatBook.for_event(
        event, now=now, offerings=offerings, reservations=reservations, counts=taken
    )
    registration = _save_registration(event, existing or registration, person=person, book=book)
    if registration._state.adding and registration.pk is None:
        fastinsert.insert([registration])  # No key reserved (not PostgreSQL): store it first.
    new_rows = [[registration]] if registration._state.adding else []
    new_rows.append(_new_choices(registration, offerings, book))
    # The page cache's new generation commits with the seats (one round trip fewer).
    renew_pages = pagecache.new_generation_statement()
    emails.queue(registration.pk, "confirmation", along_with=new_rows, then=[renew_pages])
    return Outcome(registration=registration, created=True)


def _mail_link_again(registration):
    """Queue the personal link, unless it was queued within LINK_RESEND_INTERVAL. Under
    the event's lock, so that simultaneous repeats see each other's e-mail."""
    recently = QueuedEmail.objects.filter(
        registration=registration,
        kind=QueuedEmail.Kind.LINK,
        created_at__gte=timezone.now() - LINK_RESEND_INTERVAL,
    )
    if not recently.exists():
        emails.queue(registration.pk, "link")


def _filled_in(registration, person):
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


def _save_registration(event, registration, *, person, book):
    """Reactivate a cancelled registration, or prepare a new one (filled in with
    ``_filled_in``), with an event seat if one is free. A new one is not stored: the
    caller inserts it (and its rows) with ``config.fastinsert``."""
    reactivated = not registration._state.adding
    if reactivated:
        _filled_in(registration, person)
        registration.created_at = timezone.now()  # a reactivated registration queues anew
    if book.has_seat(None, event.capacity, registration.role):
        registration.status = Status.CONFIRMED
        book.take(None, registration.role)
    else:
        registration.status = Status.WAITING
    if not reactivated:
        return registration  # created_at: when inserted, under the lock
    registration.save()
    registration.choices.all().delete()
    registration.preferences.all().delete()
    return registration


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
    _check_first_come(event, now=now)
    offerings = _validated_offerings(event, offering_ids)
    wanted = {offering.pk for offering in offerings}

    current = list(registration.choices.active())
    dropped = [choice for choice in current if choice.offering_id not in wanted]
    kept = {choice.offering_id for choice in current} & wanted
    SessionChoice.objects.filter(pk__in=[choice.pk for choice in dropped]).update(
        status=Status.CANCELLED, updated_at=timezone.now()
    )
    _serve_queue_after_release(event, now=now)
    _add_choices(
        registration,
        [offering for offering in offerings if offering.pk not in kept],
        SeatBook.for_event(event, now=now),
    )
    promoted = _fill_free_seats(event, now=now)

    emails.queue(registration.pk, "changed")
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
    emails.queue(registration.pk, "cancellation")
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


def _serve_queue_after_release(event, *, now=None, reservations=None):
    """Seats whose reservation was released go to those waiting before any newcomer.

    Only events with a released reservation pay for this; the cron job
    release_reserved_seats does the same for events nobody registers for.
    """
    now = now or timezone.now()
    if reservations is None:
        released = event.seat_reservations.filter(released_at__lte=now).exists()
    else:
        released = any(reservation.released_at <= now for reservation in reservations)
    if not released:
        return []
    promoted = _fill_free_seats(event, now=now)
    _mail_promoted(promoted)
    return promoted


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


# Preference mode -----------------------------------------------------------------


def _validated_preferences(event, preferences):
    """{round: [offering, ...] best first}, checked against the event's rounds and offerings."""
    offerings = {
        offering.pk: offering
        for offering in SessionOffering.objects.filter(event=event).select_related("round")
    }
    cleaned = {}
    for round_id, ranked in preferences.items():
        ranked = [offering_id for offering_id in ranked if offering_id]
        if len(ranked) > allocation.MAX_CHOICES or len(ranked) != len(set(ranked)):
            raise ValidationError(
                _("Rank up to three different sessions per round."), code="bad_ranking"
            )
        for offering_id in ranked:
            offering = offerings.get(offering_id)
            if offering is None or offering.round_id != round_id:
                raise ValidationError(
                    _("Choose sessions of this event only."), code="invalid_choice"
                )
        if ranked:
            cleaned[round_id] = ranked
    return cleaned


def _save_preferences(registration, preferences):
    registration.preferences.all().delete()
    Preference.objects.bulk_create(
        Preference(registration=registration, round_id=round_id, offering_id=offering_id, rank=rank)
        for round_id, ranked in preferences.items()
        for rank, offering_id in enumerate(ranked, start=1)
    )


@transaction.atomic
def register_preferences(event, *, person, preferences, now=None):
    """Preference mode: register with up to three ranked sessions per round.

    No session seat is claimed now; seats are assigned by `confirm_allocation`. The
    event's own seats (if it has a capacity) still go first come, first served.
    """
    event = _lock_event(event)
    _check_preferences_open(event, now=now)
    preferences = _validated_preferences(event, preferences)
    email = person.email.strip().lower()
    # No session seat is claimed here: only the event's seats are counted.
    existing, taken = _address_and_seats(event, email, [])
    if existing and existing.is_active:
        _mail_link_again(existing)
        return Outcome(registration=existing, created=False)
    book = SeatBook.for_event(event, now=now, offerings=[], counts=taken)
    registration = existing or _filled_in(Registration(event=event, email=email), person)
    registration = _save_registration(event, registration, person=person, book=book)
    if registration._state.adding:
        fastinsert.insert([registration])
    _save_preferences(registration, preferences)
    emails.queue(registration.pk, "confirmation")
    return Outcome(registration=registration, created=True)


@transaction.atomic
def change_preferences(registration, *, preferences, now=None):
    event = _lock_event(registration.event)
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if not registration.is_active:
        raise ValidationError(_("This registration has been cancelled."), code="cancelled")
    _check_preferences_open(event, now=now)
    _save_preferences(registration, _validated_preferences(event, preferences))
    emails.queue(registration.pk, "changed")
    return Outcome(registration=registration, created=False)


def _allocation_input(event, *, now):
    """The engine's view of the event: offerings with reservations, participants with rankings.

    Only people holding an event seat take part; someone still waiting for the event
    keeps their ranking but gets no session seat from the lottery.
    """
    reservations = {}
    for reservation in event.seat_reservations.filter(
        offering__isnull=False, released_at__gt=now
    ).order_by("pk"):
        if reservation.offering_id in reservations:
            raise ValidationError(
                _(
                    "The lottery can keep seats of a session for one group only; "
                    "%(session)s has more. Remove all but one reservation."
                )
                % {"session": reservation.offering.session.title},
                code="two_reservations",
            )
        reservations[reservation.offering_id] = reservation
    offerings = []
    for offering in event.offerings.order_by("pk"):
        reservation = reservations.get(offering.pk)
        offerings.append(
            allocation.Offering(
                id=offering.pk,
                round_id=offering.round_id,
                session_id=offering.session_id,
                capacity=offering.capacity,
                reserved_role=reservation.role if reservation else None,
                reserved_seats=reservation.reserved_seats(offering.capacity) if reservation else 0,
            )
        )
    ranked = defaultdict(lambda: defaultdict(list))
    roles = {}
    preferences = (
        Preference.objects.filter(registration__event=event, registration__status=Status.CONFIRMED)
        .select_related("registration")
        .order_by("registration_id", "round_id", "rank")
    )
    for preference in preferences:
        ranked[preference.registration_id][preference.round_id].append(preference.offering_id)
        roles[preference.registration_id] = preference.registration.role
    participants = [
        allocation.Participant(id=pk, role=roles[pk], preferences=dict(by_round))
        for pk, by_round in ranked.items()
    ]
    return offerings, participants, bool(reservations)


@transaction.atomic
def run_allocation(event, *, seed=None, user=None, now=None):
    """Draw a lottery and compute the assignment, without applying it (a preview).

    The organiser may run it again with another seed until they confirm one run.
    """
    now = now or timezone.now()
    event = _lock_event(event)
    if not event.uses_preferences:
        raise ValidationError(_("This event does not take preferences."), code="not_preferences")
    if event.allocated_at:
        raise ValidationError(_("The seats of this event have been assigned already."), code="done")
    if event.registration_state(now) != "allocating":
        raise ValidationError(
            _("Seats can be assigned once the preference deadline has passed."), code="too_early"
        )
    offerings, participants, reservations_active = _allocation_input(event, now=now)
    seed = allocation.new_seed() if seed is None else seed
    result = allocation.allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=reservations_active
    )
    allocation.verify_allocation(result, offerings=offerings, participants=participants)
    return AllocationRun.objects.create(
        event=event,
        seed=seed,
        created_by=user,
        result={
            "lottery": list(result.lottery),
            "assignments": [[pid, rid, oid] for (pid, rid), oid in result.assignments.items()],
            "offering_waiting": {str(oid): pids for oid, pids in result.offering_waiting.items()},
            "reservations_active": reservations_active,
        },
        summary={
            "rounds": {
                str(round_id): {
                    "first": summary.first,
                    "second": summary.second,
                    "third": summary.third,
                    "unplaced": summary.unplaced,
                }
                for round_id, summary in result.summary.items()
            },
            "fill": {str(oid): seats for oid, seats in result.fill.items()},
            "participants": len(participants),
        },
    )


@transaction.atomic
def confirm_allocation(run, *, user=None, now=None):
    """Apply a run: seats as assigned, waiting lists in lottery order, and e-mail everyone.

    Final: once an event is allocated, other runs can no longer be confirmed and the
    event continues first come, first served for the seats left.
    """
    now = now or timezone.now()
    event = _lock_event(run.event)
    run = AllocationRun.objects.select_for_update().get(pk=run.pk)
    if run.confirmed_at:
        return []
    if event.allocated_at:
        raise ValidationError(_("The seats of this event have been assigned already."), code="done")
    offerings = {offering.pk: offering for offering in event.offerings.all()}
    assigned = {(pid, rid): oid for pid, rid, oid in run.result["assignments"]}
    held_sessions = defaultdict(set)
    for (pid, _rid), oid in assigned.items():
        if oid in offerings:
            held_sessions[pid].add(offerings[oid].session_id)
    registrations = {r.pk: r for r in event.registrations.filter(status=Status.CONFIRMED)}

    for (pid, rid), oid in sorted(assigned.items()):
        if pid not in registrations or oid not in offerings:
            continue  # cancelled (or the session removed) since the draw: the seat stays free
        SessionChoice.objects.create(
            registration_id=pid,
            offering_id=oid,
            round_id=rid,
            session_id=offerings[oid].session_id,
            status=Status.CONFIRMED,
        )
    # Waiting lists: everyone unplaced in a round queues, in lottery order, for the
    # best-ranked session of that round they may still take.
    waiting_for = {int(oid): set(pids) for oid, pids in run.result["offering_waiting"].items()}
    ranked = defaultdict(lambda: defaultdict(list))
    for preference in Preference.objects.filter(registration__event=event).order_by(
        "round_id", "rank"
    ):
        ranked[preference.registration_id][preference.round_id].append(preference.offering_id)
    for pid in run.result["lottery"]:
        if pid not in registrations:
            continue
        for rid, offering_ids in ranked[pid].items():
            if (pid, rid) in assigned:
                continue
            for oid in offering_ids:
                if oid not in offerings:
                    continue
                session_id = offerings[oid].session_id
                if pid in waiting_for.get(oid, ()) and session_id not in held_sessions[pid]:
                    SessionChoice.objects.create(
                        registration_id=pid,
                        offering_id=oid,
                        round_id=rid,
                        session_id=session_id,
                        status=Status.WAITING,
                    )
                    held_sessions[pid].add(session_id)
                    break

    event.allocated_at = now
    event.save(update_fields=["allocated_at", "updated_at"])
    # Seats left by people who cancelled since the draw go to the first in the queues.
    promoted = _fill_free_seats(event, now=now)
    run.confirmed_at = now
    run.confirmed_by = user
    run.save(update_fields=["confirmed_at", "confirmed_by"])
    for pk in sorted(registrations):
        emails.queue(pk, "allocation")
    _mail_promoted([r for r in promoted if r.pk not in registrations])
    logger.info("Allocation %s of event %s confirmed", run.pk, event.pk)
    return sorted(registrations)


def _mail_promoted(registrations):
    for registration in registrations:
        emails.queue(registration.pk, "promotion")


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
    """Send `mailing` once, to each confirmed recipient in a separate e-mail, through the
    outbox (written in this transaction, sent after it commits or by the worker).

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
    emails.queue_mailing(mailing, recipient_ids)
    # Ids and counts only: no personal data in logs.
    logger.info(
        "Mailing %s queued by user %s for %s recipients", mailing.pk, user.pk, len(recipient_ids)
    )
    return mailing.recipient_count
