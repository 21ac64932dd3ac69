"""Programme changes after people registered: see the consequences, decide, then tell.

``plan()`` compares edited (unsaved) programme objects with what is stored and says
what the change does to the people who booked: who is told, which bookings move,
who would hold two sessions in one round or at the same time, which offerings would
be over capacity. Nothing is written. ``Changeover`` then carries the organiser's
decisions out under the event's lock, around the saves themselves (the admin saves
the edited objects between ``before_save`` and ``after_save``), and queues one e-mail
per person. Every seat change goes through ``registrations.seats``.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import formats
from django.utils.translation import gettext as _

from events.models import Event, ProgrammeBlock, Round, SessionOffering

from .. import emails
from ..models import HistoryEntry, QueuedEmail, Registration, SessionChoice, Status
from ..seats import EventSeats, lock_event

EVENT_FIELDS = ["start_date", "end_date", "start_time", "end_time", "venue", "is_online"]
TIME_FIELDS = ["day", "starts_at", "ends_at"]
KEEP_MOVED, KEEP_OTHER = "keep_moved", "keep_other"
OVERFLOW, TO_WAITING = "overflow", "waiting"
Source = HistoryEntry.Source
Action = HistoryEntry.Action


@dataclass
class Conflict:
    """Someone holding the moved offering and another one in its new round (or of its
    session): one of the two must go."""

    registration: Registration
    moved: SessionChoice
    other: SessionChoice


@dataclass
class Overflow:
    offering: SessionOffering
    capacity: int
    confirmed: list  # the confirmed choices, first registered first

    @property
    def latest(self):
        """Those who go to the waiting list under the rule: the latest registered."""
        return self.confirmed[self.capacity :]


@dataclass
class Plan:
    event: Event
    # What changed for each person told: {registration pk: [item, ...]}; items are dicts
    # (kind and programme texts) that ``describe`` words in the person's language.
    told: dict = field(default_factory=lambda: defaultdict(list))
    moves: list = field(default_factory=list)  # (offering, old round, new round)
    conflicts: list = field(default_factory=list)
    overflows: list = field(default_factory=list)
    overlaps: list = field(default_factory=list)  # (registration, title, title)
    cancelled: list = field(default_factory=list)  # offerings
    offerings: set = field(default_factory=set)  # pks of the offerings the change touches

    @property
    def touches_people(self):
        return bool(self.told or self.conflicts or self.overflows)

    # {registration pk: statuses of what they hold that the change touches}
    holds: dict = field(default_factory=lambda: defaultdict(set))

    def tell(self, holder, item):
        """Tell the holder (a registration or a session choice) of `item`."""
        pk = getattr(holder, "registration_id", holder.pk)
        self.told[pk].append(item)
        self.holds[pk].add(holder.status)

    def counts(self):
        """(confirmed, waiting): people affected with a seat in what changes, and those
        only waiting for it."""
        confirmed = sum(Status.CONFIRMED in statuses for statuses in self.holds.values())
        return confirmed, len(self.holds) - confirmed

    def general_items(self):
        """Each different change once, for the organiser's page."""
        seen, items = set(), []
        for person_items in self.told.values():
            for item in person_items:
                key = tuple(sorted(item.items()))
                if key not in seen:
                    seen.add(key)
                    items.append(item)
        return items


def _time(value):
    return value.strftime("%H:%M") if value else ""


def _when(item):
    day = formats.date_format(item.day, "SHORT_DATE_FORMAT") + " " if item.day else ""
    ends = f"–{_time(item.ends_at)}" if item.ends_at else ""
    return f"{day}{_time(item.starts_at)}{ends}"


def _event_when(event):
    date = formats.date_format(event.start_date, "SHORT_DATE_FORMAT")
    times = f" {_time(event.start_time)}" if event.start_time else ""
    if event.end_time:
        times += f"–{_time(event.end_time)}"
    place = str(event.venue) if event.venue_id else (_("Online") if event.is_online else "")
    return ", ".join(part for part in [date + times, place] if part)


def _active_choices(**filters):
    return (
        SessionChoice.objects.active()
        .filter(**filters)
        .select_related("registration", "offering__session", "offering__round")
        .order_by("created_at", "pk")
    )


def plan(event, *, event_after=None, blocks=(), rounds=(), offerings=(), cancel=()):
    """What saving the edited (unsaved) objects, or cancelling the offerings `cancel`,
    would do to the people who booked. Reads only."""
    result = Plan(event=event)
    active = Registration.objects.active().filter(event=event)
    if event_after is not None:
        before = Event.objects.get(pk=event.pk)
        changed = [
            name for name in EVENT_FIELDS if getattr(before, name) != getattr(event_after, name)
        ]
        if changed:
            item = {"kind": "event", "was": _event_when(before), "now": _event_when(event_after)}
            for registration in active:
                result.tell(registration, item)
    for block in blocks:
        before = ProgrammeBlock.objects.get(pk=block.pk)
        if any(getattr(before, name) != getattr(block, name) for name in TIME_FIELDS):
            item = {"kind": "time", "title": block.title, "was": _when(before), "now": _when(block)}
            for registration in active:
                result.tell(registration, item)
    new_rounds = {round_.pk: round_ for round_ in rounds}
    for round_ in rounds:
        before = Round.objects.get(pk=round_.pk)
        if any(getattr(before, name) != getattr(round_, name) for name in TIME_FIELDS):
            item = {
                "kind": "time",
                "title": round_.title,
                "was": _when(before),
                "now": _when(round_),
            }
            for choice in _active_choices(offering__round=round_):
                result.tell(choice, item)
            result.offerings.update(round_.offerings.values_list("pk", flat=True))
    for offering in offerings:
        _plan_offering(result, offering)
    for offering in cancel:
        result.cancelled.append(offering)
        result.offerings.add(offering.pk)
        item = {
            "kind": "cancelled",
            "session": offering.session.title,
            "round": offering.round.title,
        }
        for choice in _active_choices(offering=offering):
            result.tell(choice, item)
    result.overlaps = _overlaps(event, result, new_rounds)
    return result


def _plan_offering(result, offering):
    before = SessionOffering.objects.select_related("round", "session").get(pk=offering.pk)
    booked = list(_active_choices(offering=offering))
    title = before.session.title
    if before.location != offering.location or before.round_id != offering.round_id:
        result.offerings.add(offering.pk)
    if before.location != offering.location:
        item = {
            "kind": "location",
            "session": title,
            "was": before.location,
            "now": offering.location,
        }
        for choice in booked:
            result.tell(choice, item)
    if before.round_id != offering.round_id:
        new_round = Round.objects.get(pk=offering.round_id)
        result.moves.append((offering, before.round, new_round))
        item = {
            "kind": "moved",
            "session": title,
            "was": f"{before.round.title} ({_when(before.round)})",
            "now": f"{new_round.title} ({_when(new_round)})",
        }
        for choice in booked:
            result.tell(choice, item)
        others = _active_choices(
            registration_id__in=[choice.registration_id for choice in booked],
            round_id=offering.round_id,
        ).exclude(offering_id=offering.pk)
        by_person = {choice.registration_id: choice for choice in booked}
        for other in others:
            moved = by_person[other.registration_id]
            result.conflicts.append(Conflict(other.registration, moved, other))
    confirmed = [choice for choice in booked if choice.status == Status.CONFIRMED]
    if offering.capacity is not None and len(confirmed) > offering.capacity:
        result.overflows.append(Overflow(offering, offering.capacity, confirmed))
        result.offerings.add(offering.pk)


def _overlaps(event, result, new_rounds):
    """People told who would hold two sessions at the same time (rounds overlapping)."""
    rounds = {round_.pk: new_rounds.get(round_.pk, round_) for round_ in event.rounds.all()}
    moved_to = {offering.pk: new_round.pk for offering, _old, new_round in result.moves}
    held = defaultdict(list)
    for choice in _active_choices(registration_id__in=list(result.told)):
        round_id = moved_to.get(choice.offering_id, choice.offering.round_id)
        held[choice.registration_id].append((rounds[round_id], choice))
    found = []
    for pairs in held.values():
        for index, (first, one) in enumerate(pairs):
            for second, other in pairs[index + 1 :]:
                if first.pk != second.pk and _overlap(event, first, second):
                    found.append(
                        (one.registration, one.offering.session.title, other.offering.session.title)
                    )
    return found


def _overlap(event, first, second):
    if (first.day or event.start_date) != (second.day or event.start_date):
        return False
    first_end = first.ends_at or first.starts_at
    second_end = second.ends_at or second.starts_at
    return first.starts_at < second_end and second.starts_at < first_end


@dataclass
class Decisions:
    """What the organiser chose on the consequences page."""

    conflict_rule: str = KEEP_MOVED
    per_conflict: dict = field(default_factory=dict)  # registration pk: rule
    per_overflow: dict = field(default_factory=dict)  # offering pk: OVERFLOW / TO_WAITING
    note: str = ""

    def for_conflict(self, conflict):
        return self.per_conflict.get(conflict.registration.pk) or self.conflict_rule

    def for_overflow(self, overflow):
        return self.per_overflow.get(overflow.offering.pk, OVERFLOW)


class Changeover:
    """Carry out a planned change under the event's lock: ``before_save``, then the
    caller saves the edited objects, then ``after_save`` (which queues the e-mails)."""

    def __init__(self, plan, decisions, *, user=None):
        self.plan = plan
        self.decisions = decisions
        self.seats = EventSeats.open(plan.event).acting_as(Source.PROGRAMME, user)
        self.told = {pk: list(items) for pk, items in plan.told.items()}

    def before_save(self):
        """Settle the conflicts of moved offerings, so the moves can be saved."""
        for conflict in self.plan.conflicts:
            keep_moved = self.decisions.for_conflict(conflict) == KEEP_MOVED
            dropped = conflict.other if keep_moved else conflict.moved
            self.seats.release([dropped])
            self.told.setdefault(conflict.registration.pk, []).append(
                {
                    "kind": "dropped",
                    "session": dropped.offering.session.title,
                    "round": dropped.offering.round.title,
                }
            )

    def after_save(self):
        """Moves noted, cut seats handled as chosen, cancelled offerings released, free
        seats given to those waiting, and one e-mail for each person told."""
        seats = self.seats
        for offering, old_round, new_round in self.plan.moves:
            for choice in SessionChoice.objects.active().filter(offering=offering):
                seats.note(
                    choice.registration_id,
                    Action.MOVED,
                    offering=offering,
                    status=choice.status,
                    detail=f"{old_round.title} → {new_round.title}",
                )
        seats.write_history()
        for overflow in self.plan.overflows:
            if self.decisions.for_overflow(overflow) == TO_WAITING:
                latest = list(
                    SessionChoice.objects.filter(
                        pk__in=[c.pk for c in overflow.latest], status=Status.CONFIRMED
                    )
                )
                seats.to_waiting_top(latest)
                for choice in latest:
                    self.told.setdefault(choice.registration_id, []).append(
                        {"kind": "to_waiting", "session": overflow.offering.session.title}
                    )
        for offering in self.plan.cancelled:
            seats.cancel_offering(offering)
        seats.promote()
        return self.tell()

    def tell(self):
        """One e-mail per person told, and a new calendar version of the event."""
        if not self.told:
            return []
        Event.objects.filter(pk=self.plan.event.pk).update(
            calendar_sequence=F("calendar_sequence") + 1
        )
        promoted = {registration.pk for registration in self.seats.promoted}
        rows = []
        for pk, items in sorted(self.told.items()):
            self.seats.note(pk, Action.NOTIFIED, detail=_summary(items))
            rows.append(
                emails.programme_change_row(pk, {"items": items, "note": self.decisions.note})
            )
        QueuedEmail.objects.bulk_create(rows)
        emails.deliver_after_commit(rows)
        self.seats.write_history()
        emails.tell_session_staff(
            self.plan.event, self.plan.offerings, self.plan.general_items(), self.decisions.note
        )
        emails_for_promoted = [pk for pk in promoted if pk not in self.told]
        for pk in emails_for_promoted:
            emails.queue(pk, QueuedEmail.Kind.PROMOTION)
        return sorted(self.told)


def _summary(items):
    return "; ".join(item["kind"] for item in items)


@transaction.atomic
def change_programme(event, decisions, *, user=None, **edited):
    """Save edited programme objects (``plan``'s keyword arguments) with the organiser's
    `decisions`, as the admin does after the confirmation: under the event's lock, so
    registrations wait and none is missed or overbooked. Returns the registrations told."""
    lock_event(event)
    changeover = Changeover(plan(event, **edited), decisions, user=user)
    changeover.before_save()
    if edited.get("event_after") is not None:
        edited["event_after"].save()
    for name in ("blocks", "rounds", "offerings"):
        for obj in edited.get(name, ()):
            obj.save()
    return changeover.after_save()


@transaction.atomic
def cancel_offerings(event, offerings, decisions, *, user=None):
    """Cancel `offerings` (of `event`): their people are released, told and invited to
    choose another session of the round; returns the registrations told."""
    lock_event(event)
    changeover = Changeover(plan(event, cancel=offerings), decisions, user=user)
    return changeover.after_save()
