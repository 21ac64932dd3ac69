"""Preference mode: participants rank sessions, and a lottery assigns the seats.

The assignment itself is computed by ``registrations.allocation``; these services read its
input under the event's lock, keep each run as a preview, and apply the one the organiser
confirms, with waiting lists in lottery order.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from events.models import Event, SessionOffering

from .. import allocation, emails
from ..availability import RegistrationState, registration_state
from ..models import (
    AllocationRun,
    HistoryEntry,
    Preference,
    QueuedEmail,
    Registration,
    SessionChoice,
    Status,
)
from ..seats import EventSeats, first_clash, lock_event
from .first_come import (
    Outcome,
    Person,
    check_registration_open,
    filled_in,
    mail_link_again,
    mail_promoted,
)

logger = logging.getLogger(__name__)
Kind = QueuedEmail.Kind
Action = HistoryEntry.Action


def _check_preferences_open(event, *, now=None):
    check_registration_open(event, now=now)
    if registration_state(event, now) != RegistrationState.PREFERENCES:
        raise ValidationError(
            _("Preferences can no longer be given for this event."), code="preferences_closed"
        )


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
def register_preferences(
    event: Event,
    *,
    person: Person,
    preferences: dict[int, Sequence[int]],
    now: datetime | None = None,
) -> Outcome:
    """Preference mode: register with up to three ranked sessions per round.

    No session seat is claimed now; seats are assigned by `confirm_allocation`. The
    event's own seats (if it has a capacity) still go first come, first served.
    """
    email = person.email.strip().lower()
    seats = EventSeats.open(event, email=email, offerings=[], now=now)
    _check_preferences_open(seats.event, now=now)
    preferences = _validated_preferences(seats.event, preferences)
    mail_promoted(seats.promoted)
    if seats.existing and seats.existing.is_active:
        mail_link_again(seats.existing)
        return Outcome(registration=seats.existing, created=False)
    registration = filled_in(seats.existing or Registration(event=seats.event, email=email), person)
    seats.admit(registration)
    seats.write(outbox=[emails.outbox_row(registration.pk, Kind.CONFIRMATION)])
    _save_preferences(registration, preferences)
    return Outcome(registration=registration, created=True)


@transaction.atomic
def change_preferences(
    registration: Registration,
    *,
    preferences: dict[int, Sequence[int]],
    now: datetime | None = None,
) -> Outcome:
    event = lock_event(registration.event)
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if not registration.is_active:
        raise ValidationError(_("This registration has been cancelled."), code="cancelled")
    _check_preferences_open(event, now=now)
    _save_preferences(registration, _validated_preferences(event, preferences))
    emails.queue(registration.pk, Kind.CHANGED)
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
    rounds = list(event.rounds.all())
    offerings = []
    offerings_here = event.offerings.select_related("round", "last_round").order_by("pk")
    for offering in offerings_here:
        reservation = reservations.get(offering.pk)
        offerings.append(
            allocation.Offering(
                id=offering.pk,
                round_id=offering.round_id,
                session_id=offering.session_id,
                capacity=offering.capacity,
                reserved_role=reservation.role if reservation else None,
                reserved_seats=reservation.reserved_seats(offering.capacity) if reservation else 0,
                # A session across rounds, or rounds overlapping in time.
                takes_up=frozenset(
                    round_.pk
                    for round_ in rounds
                    if round_.pk != offering.round_id
                    and offering.takes_up(round_, event.start_date)
                ),
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
def run_allocation(
    event: Event, *, seed: int | None = None, user=None, now: datetime | None = None
) -> AllocationRun:
    """Draw a lottery and compute the assignment, without applying it (a preview).

    The organiser may run it again with another seed until they confirm one run.
    """
    now = now or timezone.now()
    event = lock_event(event)
    if not event.uses_preferences:
        raise ValidationError(_("This event does not take preferences."), code="not_preferences")
    if event.allocated_at:
        raise ValidationError(_("The seats of this event have been assigned already."), code="done")
    if registration_state(event, now) != RegistrationState.ALLOCATING:
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
def confirm_allocation(run: AllocationRun, *, user=None, now: datetime | None = None) -> list[int]:
    """Apply a run: seats as assigned, waiting lists in lottery order, and e-mail everyone.

    Final: once an event is allocated, other runs can no longer be confirmed and the
    event continues first come, first served for the seats left.
    """
    now = now or timezone.now()
    event = lock_event(run.event)
    run = AllocationRun.objects.select_for_update().get(pk=run.pk)
    if run.confirmed_at:
        return []
    if event.allocated_at:
        raise ValidationError(_("The seats of this event have been assigned already."), code="done")
    offerings = {
        offering.pk: offering
        for offering in event.offerings.select_related("session", "round", "last_round")
    }
    assigned = {(pid, rid): oid for pid, rid, oid in run.result["assignments"]}
    held_sessions = defaultdict(set)
    held_offerings = defaultdict(list)  # to queue for nothing at the same time as these
    for (pid, _rid), oid in assigned.items():
        if oid in offerings:
            held_sessions[pid].add(offerings[oid].session_id)
            held_offerings[pid].append(offerings[oid])
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
                if (
                    pid in waiting_for.get(oid, ())
                    and session_id not in held_sessions[pid]
                    and first_clash(event, [offerings[oid]], held_offerings[pid]) is None
                ):
                    SessionChoice.objects.create(
                        registration_id=pid,
                        offering_id=oid,
                        round_id=rid,
                        session_id=session_id,
                        status=Status.WAITING,
                    )
                    held_sessions[pid].add(session_id)
                    held_offerings[pid].append(offerings[oid])
                    break

    event.allocated_at = now
    event.save(update_fields=["allocated_at", "updated_at"])
    # Seats left by people who cancelled since the draw go to the first in the queues.
    seats = EventSeats.open(event, now=now).acting_as(HistoryEntry.Source.ALLOCATION, user)
    for choice in SessionChoice.objects.filter(registration__event=event).order_by("pk"):
        seats.note(
            choice.registration_id, Action.CHOSEN, offering=choice.offering_id, status=choice.status
        )
    seats.write_history()
    seats.promote()
    run.confirmed_at = now
    run.confirmed_by = user
    run.save(update_fields=["confirmed_at", "confirmed_by"])
    for pk in sorted(registrations):
        emails.queue(pk, Kind.ALLOCATION)
    mail_promoted([r for r in seats.promoted if r.pk not in registrations])
    logger.info("Allocation %s of event %s confirmed", run.pk, event.pk)
    return sorted(registrations)
