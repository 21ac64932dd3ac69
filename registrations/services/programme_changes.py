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

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import formats
from django.utils.translation import gettext as _

from events.models import Event, ProgrammeBlock, Round, Session, SessionOffering

from .. import emails
from ..models import (
    HistoryEntry,
    Preference,
    QueuedEmail,
    Registration,
    SessionChoice,
    Status,
)
from ..seats import EventSeats, lock_event

EVENT_FIELDS = ["start_date", "end_date", "start_time", "end_time", "venue", "is_online"]
TIME_FIELDS = ["day", "starts_at", "ends_at"]
KEEP_MOVED, KEEP_OTHER = "keep_moved", "keep_other"
OVERFLOW, TO_WAITING = "overflow", "waiting"
# Rules for someone a move gives two sessions in one round (or at one time, or the same
# session twice): keep the moved one, keep the other, or wait for the moved one.
CONFLICT_RULES = (KEEP_MOVED, KEEP_OTHER, TO_WAITING)
# Changes that leave everything the same for participants: only these may go untold.
CORRECTION = "corrected"
Source = HistoryEntry.Source
Action = HistoryEntry.Action


@dataclass
class Conflict:
    """Someone holding the moved offering and another one in its new round (or of its
    session): one of the two must go."""

    registration: Registration
    moved: SessionChoice
    other: SessionChoice
    kind: str = "round"  # "round", "session" (the same session twice) or "time"


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

    @property
    def only_corrections(self):
        """Whether the change leaves everything the same for participants (a title
        corrected): only then may the organiser leave them untold."""
        return not (self.conflicts or self.overflows or self.cancelled or self.moves) and all(
            item["kind"] == CORRECTION for items in self.told.values() for item in items
        )

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


def plan(event, *, event_after=None, blocks=(), rounds=(), offerings=(), cancel=(), sessions=()):
    """What saving the edited (unsaved) objects, or cancelling the offerings `cancel`,
    would do to the people who booked. Reads only."""
    result = Plan(event=event)
    active = Registration.objects.active().filter(event=event)
    if event_after is not None:
        before = Event.objects.get(pk=event.pk)
        if before.title != event_after.title:
            _correct(result, active, before.title, event_after.title)
        changed = [
            name for name in EVENT_FIELDS if getattr(before, name) != getattr(event_after, name)
        ]
        if changed:
            item = {"kind": "event", "was": _event_when(before), "now": _event_when(event_after)}
            for registration in active:
                result.tell(registration, item)
    for session in sessions:
        before = Session.objects.get(pk=session.pk)
        if before.title != session.title:
            _correct(result, _active_choices(session=session), before.title, session.title)
    for block in blocks:
        before = ProgrammeBlock.objects.get(pk=block.pk)
        if before.title != block.title:
            _correct(result, active, before.title, block.title)
        if any(getattr(before, name) != getattr(block, name) for name in TIME_FIELDS):
            item = {"kind": "time", "title": block.title, "was": _when(before), "now": _when(block)}
            for registration in active:
                result.tell(registration, item)
        if before.location != block.location:
            for registration in active:
                result.tell(registration, _new_place(block.title, before, block))
    new_rounds = {round_.pk: round_ for round_ in rounds}
    for round_ in rounds:
        before = Round.objects.get(pk=round_.pk)
        if before.title != round_.title:
            _correct(result, _active_choices(offering__round=round_), before.title, round_.title)
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
        if before.location != round_.location:
            item = _new_place(round_.title, before, round_)
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


def _new_place(title, before, after):
    return {"kind": "location", "session": title, "was": before.location, "now": after.location}


def _correct(result, holders, was, now):
    """Tell the holders of a corrected title (theirs to choose whether to be told)."""
    item = {"kind": CORRECTION, "was": was, "now": now}
    for holder in holders:
        result.tell(holder, item)


def _plan_offering(result, offering):
    before = SessionOffering.objects.select_related("round", "session").get(pk=offering.pk)
    booked = list(_active_choices(offering=offering))
    title = before.session.title
    if before.location != offering.location or before.round_id != offering.round_id:
        result.offerings.add(offering.pk)
    if before.location != offering.location:
        item = _new_place(title, before, offering)
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
        # Rankings (lottery events) move along too (``bookings``); their people are told.
        ranked = Preference.objects.filter(offering=offering).exclude(
            registration_id__in=[choice.registration_id for choice in booked]
        )
        for registration in Registration.objects.active().filter(
            pk__in=ranked.values("registration_id")
        ):
            result.tell(registration, item)
        by_person = {choice.registration_id: choice for choice in booked}
        others = _active_choices(registration_id__in=list(by_person)).exclude(
            offering_id=offering.pk
        )
        for other in others.select_related("offering__last_round"):
            kind = _conflict_kind(result.event, offering, other)
            if kind:
                moved = by_person[other.registration_id]
                result.conflicts.append(Conflict(other.registration, moved, other, kind))
    confirmed = [choice for choice in booked if choice.status == Status.CONFIRMED]
    if offering.capacity is not None and len(confirmed) > offering.capacity:
        result.overflows.append(Overflow(offering, offering.capacity, confirmed))
        result.offerings.add(offering.pk)


def _conflict_kind(event, moved, other):
    """Why the moved offering (edited, in its new round) and `other`, held by the same
    person, cannot both stand; None when they can."""
    if other.round_id == moved.round_id:
        return "round"
    if other.offering.session_id == moved.session_id:
        return "session"
    if moved.clashes_with(other.offering, event.start_date):
        return "time"
    return None


def _overlaps(event, result, new_rounds):
    """People told who would hold two sessions at the same time (rounds overlapping)."""
    rounds = {round_.pk: new_rounds.get(round_.pk, round_) for round_ in event.rounds.all()}
    moved_to = {offering.pk: new_round.pk for offering, _old, new_round in result.moves}
    held = defaultdict(list)
    for choice in _active_choices(registration_id__in=list(result.told)):
        round_id = moved_to.get(choice.offering_id, choice.offering.round_id)
        held[choice.registration_id].append((rounds[round_id], choice))
    decided = {frozenset((conflict.moved.pk, conflict.other.pk)) for conflict in result.conflicts}
    found = []
    for pairs in held.values():
        for index, (first, one) in enumerate(pairs):
            for second, other in pairs[index + 1 :]:
                if frozenset((one.pk, other.pk)) in decided:
                    continue  # the organiser decides this one with the conflicts
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
    # False: nobody is e-mailed; allowed only for corrections (``Plan.only_corrections``).
    notify: bool = True

    def for_conflict(self, conflict):
        return self.per_conflict.get(conflict.registration.pk) or self.conflict_rule

    def for_overflow(self, overflow):
        return self.per_overflow.get(overflow.offering.pk, OVERFLOW)


class Changeover:
    """Carry out a planned change under the event's lock: ``before_save``, then the
    caller saves the edited objects, then ``after_save`` (which queues the e-mails)."""

    def __init__(self, plan, decisions, *, user=None):
        if not decisions.notify and not plan.only_corrections:
            raise ValidationError(
                _(
                    "This change matters to participants, so everyone affected is told. "
                    "Only a correction, such as a typo in a title, can be saved without "
                    "telling them."
                ),
                code="must_notify",
            )
        self.plan = plan
        self.decisions = decisions
        self.seats = EventSeats.open(plan.event).acting_as(Source.PROGRAMME, user)
        self.told = {pk: list(items) for pk, items in plan.told.items()}

    def before_save(self):
        """Settle the conflicts of moved offerings, so the moves can be saved."""
        done = set()  # choices already released or queued: one person, several conflicts
        for conflict in self.plan.conflicts:
            rule = self.decisions.for_conflict(conflict)
            dropped = conflict.other if rule in (KEEP_MOVED, TO_WAITING) else conflict.moved
            told = self.told.setdefault(conflict.registration.pk, [])
            if dropped.pk not in done:
                done.add(dropped.pk)
                self.seats.release([dropped])
                told.append(
                    {
                        "kind": "dropped",
                        "session": dropped.offering.session.title,
                        "round": dropped.offering.round.title,
                    }
                )
            if rule == TO_WAITING and conflict.moved.pk not in done:
                done.add(conflict.moved.pk)
                self.seats.to_waiting_end([conflict.moved])
                told.append({"kind": "requeued", "session": conflict.moved.offering.session.title})

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
        """One e-mail per person told, and a new calendar version of the event (nobody
        is told of a correction the organiser chose not to announce)."""
        if not self.told or not self.decisions.notify:
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
    for name in ("blocks", "rounds", "offerings", "sessions"):
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


@transaction.atomic
def cancel_event(event, decisions, *, user=None):
    """Cancel the whole `event`: every registration and every offering is cancelled,
    registration closes, and everyone registered is e-mailed once with a calendar
    cancellation (same UID, higher SEQUENCE). Returns the registrations told."""
    locked = lock_event(event)
    result = plan_event_cancellation(event)
    changeover = Changeover(result, decisions, user=user)
    for registration in Registration.objects.active().filter(event=event):
        changeover.seats.cancel(registration)
    locked.cancelled_at = changeover.seats.now
    locked.save(update_fields=["cancelled_at", "updated_at"])  # its pages are renewed
    return changeover.after_save()


def plan_event_cancellation(event):
    """What cancelling the whole event does: every offering is cancelled and everyone
    registered is told one thing, that the event does not take place. Reads only."""
    offerings = list(
        SessionOffering.objects.current().filter(event=event).select_related("session", "round")
    )
    result = plan(event, cancel=offerings)
    result.told.clear()
    result.holds.clear()
    item = {"kind": "event_cancelled", "event": event.title}
    for registration in Registration.objects.active().filter(event=event):
        result.tell(registration, item)
    return result
