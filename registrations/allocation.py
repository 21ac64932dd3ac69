"""Seat allocation for preference mode: ranked choices per round in, seats and waiting lists out.

During a preference period participants rank up to three session offerings per round (best
first). When the period closes, :func:`allocate_seats` assigns the seats of the whole event at
once. This module is pure: plain dataclasses in, plain dataclasses out, no models and no
database. The caller loads a snapshot of the rows, calls it, calls :func:`verify_allocation` on
the result, and stores confirmed and waiting session choices. ``docs/allocation.md`` explains the
algorithm, proves the guarantees and shows how to reproduce and explain a run.

API
---

``Offering(id, round_id, session_id, capacity, reserved_role=None, reserved_seats=0,
takes_up=frozenset())``
    A session offered in one round; ``capacity=None`` means no limit. ``reserved_seats`` seats are
    held for participants whose ``role`` equals ``reserved_role`` while reservations are active
    (turning a percentage into a count is the caller's choice). ``takes_up``: the other rounds in
    which its holder can hold nothing else (a session across rounds, or rounds overlapping in
    time). It is ranked in its own round only, its seats count once, and in every round it takes
    up where its holder ranked something it counts as a seat of the same rank.

``Participant(id, role, preferences)``
    ``preferences`` maps a round id to at most :data:`MAX_CHOICES` offering ids of that round, best
    first. A round without an entry, or with an empty list, is skipped.

``allocate_seats(participants, *, offerings, seed, reservations_active) -> Allocation``
    ``seed`` (an integer ``>= 0``, e.g. from :func:`new_seed`) fixes the lottery: store it with
    the run. ``reservations_active`` is ``True`` before the release date of reserved seats.
    Raises ``ValueError`` for inconsistent input.

``verify_allocation(allocation, *, offerings, participants) -> None``
    Raises :class:`AllocationError` if a checkable guarantee is broken. Call it after every run.

``draw_lottery(participant_ids, *, seed) -> tuple[int, ...]``
    The lottery order alone (equal to ``Allocation.lottery``).

``new_seed() -> int``
    A fresh random seed that fits a ``PositiveIntegerField``.

``Allocation`` fields: ``seed``; ``reservations_active``; ``lottery`` (participant ids, first
drawn first); ``assignments`` (``(participant_id, round_id) -> offering_id``); ``ranks``
(``(participant_id, round_id) -> 1..3`` or ``None``, for every round in which the participant
ranked something); ``waiting`` (``round_id -> [participant_id]``, the unplaced of that round in
lottery order); ``offering_waiting`` (``offering_id -> [participant_id]``, those unplaced of its
round who ranked it and may still take it, in lottery order); ``summary`` (``round_id ->
RoundSummary(first, second, third, unplaced)``); ``fill`` (``offering_id -> seats given``);
``lottery_score`` (the value stage 4 maximised; equal on a faithful rerun).

Guarantees (numbered as in ``docs/allocation.md``)
--------------------------------------------------

- G1-G4: at most one seat per round and only in a ranked offering of that round; no seat in a
  round taken up by a seat of another round; never the same session twice; capacities hold;
  while reservations are active, participants outside an offering's ``reserved_role`` fill at
  most ``capacity - reserved_seats`` of its seats.
- G5: over the whole event, the most placements possible; among those the fewest third choices;
  among those the fewest second choices.
- G6: nobody could move to an empty seat they ranked higher and may take.
- G7: no two participants could swap seats in a round and both be better off.
- G8: no two participants could exchange outcomes in a round (two seats, or a seat and none) so
  that the one earlier in the lottery gets the better rank: equal claims go by the lottery.
- G9: the same offerings, participants (in any order), seed and flag give the same result.

:func:`verify_allocation` checks G1-G4 and G6-G8 and that every derived field follows from the
assignments. G5 rests on the solver: each stage is proven optimal by an integer LP certificate or
by branch-and-bound, and the final solution is re-checked in integers.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

MAX_CHOICES = 3
"""How many offerings a participant may rank per round."""

UNPLACED = MAX_CHOICES + 1
"""The rank used internally for "no seat in this round": worse than every ranked choice."""


class AllocationError(RuntimeError):
    """The solver failed, or an allocation breaks one of the guarantees."""


@dataclass(frozen=True)
class Offering:
    """A session as offered in one round, with its seats (None: no limit) and reservation."""

    id: int
    round_id: int
    session_id: int
    capacity: int | None
    reserved_role: str | None = None
    reserved_seats: int = 0
    takes_up: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Participant:
    """A participant with a role and, per round id, up to three offering ids, best first."""

    id: int
    role: str | None
    preferences: Mapping[int, Sequence[int]]


@dataclass(frozen=True)
class RoundSummary:
    """How many participants who ranked something in a round got which rank, or no seat."""

    first: int
    second: int
    third: int
    unplaced: int


@dataclass(frozen=True)
class Allocation:
    """The result of one run; the module docstring describes every field."""

    seed: int
    reservations_active: bool
    lottery: tuple[int, ...]
    assignments: dict[tuple[int, int], int]
    ranks: dict[tuple[int, int], int | None]
    waiting: dict[int, list[int]]
    offering_waiting: dict[int, list[int]]
    summary: dict[int, RoundSummary]
    fill: dict[int, int]
    lottery_score: int


def new_seed() -> int:
    """A fresh lottery seed in ``0 .. 2**31 - 1`` (fits a ``PositiveIntegerField``)."""
    return secrets.randbelow(2**31)


def draw_lottery(participant_ids: Iterable[int], *, seed: int) -> tuple[int, ...]:
    """The lottery order of `participant_ids`: first drawn first.

    A shuffle by ``random.Random(seed)`` of the ids in sorted order, so it depends on the set of
    ids and the seed only, never on the order they come in. Python has kept integer seeding and
    ``shuffle`` stable since 3.2, so the order can be redrawn from a stored seed.
    """
    if seed < 0:
        raise ValueError("The seed must be a non-negative integer.")
    order = sorted(participant_ids)
    random.Random(seed).shuffle(order)  # noqa: S311 - a published seed, to be repeatable
    return tuple(order)


def allocate_seats(
    participants: Iterable[Participant],
    *,
    offerings: Iterable[Offering],
    seed: int,
    reservations_active: bool,
) -> Allocation:
    """Assign seats to ranked choices, keeping guarantees G1-G9 of the module docstring.

    Raises ``ValueError`` for inconsistent input (unknown offerings, an offering ranked under
    another round, more than ``MAX_CHOICES`` or repeated choices in a round, impossible
    reservations) and ``AllocationError`` if the solver does not prove an optimum.
    """
    instance = _Instance.build(participants, offerings)
    lottery = draw_lottery(instance.participant_ids, seed=seed)
    choices = _Choices.build(instance, lottery)
    feasible = _constraints(instance, choices, reservations_active=reservations_active)
    chosen, lottery_score = _solve(choices, feasible)
    assignments = {
        (choices.participant_id[k], choices.round_id[k]): choices.offering_id[k]
        for k in np.flatnonzero(chosen)
    }
    return _allocation(
        instance,
        seed=seed,
        reservations_active=reservations_active,
        lottery=lottery,
        assignments=assignments,
        lottery_score=lottery_score,
    )


def verify_allocation(
    allocation: Allocation,
    *,
    offerings: Iterable[Offering],
    participants: Iterable[Participant],
) -> None:
    """Raise ``AllocationError`` unless `allocation` keeps guarantees G1-G4 and G6-G8.

    Checks that the lottery is the one drawn from the seed, that every seat is a ranked choice of
    its round, that no session is given twice to anyone, capacities and active reservations, that
    nobody could move to an empty seat they ranked higher, that no two participants could swap
    seats and both be better off, that no two could exchange outcomes in favour of the one earlier
    in the lottery, and that ranks, summary, fill, waiting lists and lottery score follow from the
    assignments. Runs in time linear in the number of ranked choices.
    """
    instance = _Instance.build(participants, offerings)
    lottery = draw_lottery(instance.participant_ids, seed=allocation.seed)
    if allocation.lottery != lottery:
        raise AllocationError("The lottery is not the one drawn from the seed.")
    for (pid, rid), oid in allocation.assignments.items():
        participant = instance.participants.get(pid)
        if participant is None:
            raise AllocationError(f"Participant {pid} is not among the participants.")
        if oid not in participant.preferences.get(rid, ()):
            raise AllocationError(
                f"Participant {pid} got offering {oid} in round {rid} without ranking it there."
            )
    expected = _allocation(
        instance,
        seed=allocation.seed,
        reservations_active=allocation.reservations_active,
        lottery=lottery,
        assignments=allocation.assignments,
        lottery_score=allocation.lottery_score,
    )
    checks = _Checks(instance, allocation)
    checks.sessions_once()
    checks.no_round_taken_up_twice()
    checks.capacities()
    checks.no_better_empty_seat()
    checks.no_pairwise_exchange()
    for name in ("ranks", "summary", "fill", "waiting", "offering_waiting"):
        if getattr(allocation, name) != getattr(expected, name):
            raise AllocationError(f"`{name}` does not follow from the assignments.")
    if allocation.lottery_score != _lottery_score(instance, lottery, allocation.ranks):
        raise AllocationError("`lottery_score` does not follow from the assignments.")


# --- input ---------------------------------------------------------------------------------------


@dataclass
class _Instance:
    """Validated input, indexed: participants and offerings by id, rounds in id order."""

    participants: dict[int, Participant]
    participant_ids: list[int]
    offerings: dict[int, Offering]
    round_ids: list[int]

    @classmethod
    def build(cls, participants, offerings):
        by_offering = {}
        for offering in offerings:
            if offering.id in by_offering:
                raise ValueError(f"Offering {offering.id} appears twice.")
            _check_offering(offering)
            by_offering[offering.id] = offering
        by_participant = {}
        for participant in participants:
            if participant.id in by_participant:
                raise ValueError(f"Participant {participant.id} appears twice.")
            _check_preferences(participant, by_offering)
            by_participant[participant.id] = participant
        return cls(
            participants=by_participant,
            participant_ids=sorted(by_participant),
            offerings=by_offering,
            round_ids=sorted({offering.round_id for offering in by_offering.values()}),
        )

    def ranked(self, participant):
        """(round id, rank, offering) for each choice of `participant`, rounds in id order."""
        for rid in sorted(participant.preferences):
            for rank, oid in enumerate(participant.preferences[rid], start=1):
                yield rid, rank, self.offerings[oid]


def _check_offering(offering):
    if offering.capacity is not None and offering.capacity < 0:
        raise ValueError(f"Offering {offering.id} has a negative capacity.")
    if offering.reserved_seats < 0:
        raise ValueError(f"Offering {offering.id} reserves a negative number of seats.")
    if offering.reserved_seats and offering.reserved_role is None:
        raise ValueError(f"Offering {offering.id} reserves seats without a role.")
    if offering.reserved_seats and offering.capacity is None:
        raise ValueError(f"Offering {offering.id} reserves seats but has no capacity.")
    if offering.capacity is not None and offering.reserved_seats > offering.capacity:
        raise ValueError(f"Offering {offering.id} reserves more seats than it has.")
    if offering.round_id in offering.takes_up:
        raise ValueError(f"Offering {offering.id} takes up its own round as another.")


def _check_preferences(participant, offerings):
    for rid, ranked in participant.preferences.items():
        if len(ranked) > MAX_CHOICES:
            raise ValueError(
                f"Participant {participant.id} ranks more than {MAX_CHOICES} in round {rid}."
            )
        if len(set(ranked)) != len(ranked):
            raise ValueError(
                f"Participant {participant.id} ranks an offering twice in round {rid}."
            )
        for oid in ranked:
            offering = offerings.get(oid)
            if offering is None:
                raise ValueError(f"Participant {participant.id} ranks unknown offering {oid}.")
            if offering.round_id != rid:
                raise ValueError(
                    f"Participant {participant.id} ranks offering {oid} under round {rid}, "
                    f"but it runs in round {offering.round_id}."
                )


def _covered(participant, offering):
    """The rounds where `participant` ranked something that `offering` takes up: a seat in
    it counts as a seat there too."""
    return [rid for rid in sorted(offering.takes_up) if participant.preferences.get(rid)]


def _is_group(participant, offering):
    return offering.reserved_role is not None and participant.role == offering.reserved_role


def _open_limit(offering, *, reservations_active):
    """Seats that participants outside the reserved role may fill, or None for no limit."""
    if offering.capacity is None:
        return None
    if reservations_active and offering.reserved_seats:
        return offering.capacity - offering.reserved_seats
    return offering.capacity


# --- the model -----------------------------------------------------------------------------------


@dataclass
class _Choices:
    """One binary variable per ranked choice, in canonical order (participants and rounds by id).

    The canonical order makes the model, and so the solver's path, independent of input order.
    """

    participant_id: list[int]
    round_id: list[int]
    offering_id: list[int]
    session_id: list[int]
    rank: np.ndarray
    cover: np.ndarray  # the rounds a seat fills: 1, plus the ranked rounds it takes up
    points: np.ndarray  # lottery weights of those rounds times the points of the rank

    @classmethod
    def build(cls, instance, lottery):
        weights = _lottery_weights(instance, lottery)
        columns = defaultdict(list)
        for pid in instance.participant_ids:
            participant = instance.participants[pid]
            for rid, rank, offering in instance.ranked(participant):
                filled = [rid, *_covered(participant, offering)]
                columns["participant_id"].append(pid)
                columns["round_id"].append(rid)
                columns["offering_id"].append(offering.id)
                columns["session_id"].append(offering.session_id)
                columns["rank"].append(rank)
                columns["cover"].append(len(filled))
                columns["points"].append(
                    sum(weights[pid, filled_rid] for filled_rid in filled) * (UNPLACED - rank)
                )
        return cls(
            participant_id=columns["participant_id"],
            round_id=columns["round_id"],
            offering_id=columns["offering_id"],
            session_id=columns["session_id"],
            rank=np.array(columns["rank"], dtype=np.int64),
            cover=np.array(columns["cover"], dtype=np.int64),
            points=np.array(columns["points"], dtype=np.int64),
        )

    def __len__(self):
        return len(self.rank)


def _lottery_weights(instance, lottery):
    """weight(p, r) = R * (P - i) - j for lottery index i (0 first) and round index j (0 first).

    Earlier in the lottery always weighs more within a round (steps of R); the round term only
    orders one participant's own rounds: a better rank goes to the earlier round when it is the
    same to everyone else. Weights lie in 1 .. R * P.
    """
    rounds, people = len(instance.round_ids), len(lottery)
    round_index = {rid: j for j, rid in enumerate(instance.round_ids)}
    return {
        (pid, rid): rounds * (people - i) - round_index[rid]
        for i, pid in enumerate(lottery)
        for rid in instance.round_ids
    }


def _lottery_score(instance, lottery, ranks):
    """Sum of weight(p, r) * points(rank): 3, 2, 1 points for a first, second, third choice."""
    weights = _lottery_weights(instance, lottery)
    return sum(weights[key] * (UNPLACED - rank) for key, rank in ranks.items() if rank is not None)


class _Face:
    """The 0/1 vectors still optimal after the stages solved so far.

    Rows ``A[i] @ x <= rhs[i]`` (or ``== rhs[i]`` once tightened) with integer coefficients, and
    per-variable bounds ``lower <= x <= upper`` in {0, 1}. Starts as the feasible set; every stage
    narrows it to exactly that stage's optimal solutions.
    """

    def __init__(self, size):
        self.size = size
        self.cols, self.coefs, self.rhs, self.equal = [], [], [], []
        self.lower = np.zeros(size, dtype=np.int64)
        self.upper = np.ones(size, dtype=np.int64)
        self._full = None  # the sparse matrix of all rows, built on demand

    def add(self, columns, *, at_most, coefs=None):
        columns = np.asarray(columns, dtype=np.int64)
        self.cols.append(columns)
        self.coefs.append(np.ones(len(columns), dtype=np.int64) if coefs is None else coefs)
        self.rhs.append(int(at_most))
        self.equal.append(False)
        self._full = None

    def matrix(self, *, equal):
        """The integer matrix and right-hand sides of the equality or the inequality rows."""
        if self._full is None:
            lengths = [len(cols) for cols in self.cols]
            self._full = sparse.csr_array(
                (
                    np.concatenate(self.coefs or [np.zeros(0, dtype=np.int64)]),
                    np.concatenate(self.cols or [np.zeros(0, dtype=np.int64)]),
                    np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]),
                ),
                shape=(len(self.cols), self.size),
            )
        picked = np.flatnonzero(np.array(self.equal, dtype=bool) == equal)
        return self._full[picked], np.array(self.rhs, dtype=np.int64)[picked]

    def inequalities(self):
        return self.matrix(equal=False)

    def equalities(self):
        return self.matrix(equal=True)

    def contains(self, x):
        """Exact integer membership test."""
        a_ub, b_ub = self.inequalities()
        a_eq, b_eq = self.equalities()
        return bool(
            np.all(x >= self.lower)
            and np.all(x <= self.upper)
            and np.all(a_ub @ x <= b_ub)
            and np.all(a_eq @ x == b_eq)
        )

    def copy(self):
        face = _Face(self.size)
        face.cols, face.coefs = list(self.cols), list(self.coefs)
        face.rhs, face.equal = list(self.rhs), list(self.equal)
        face.lower, face.upper = self.lower.copy(), self.upper.copy()
        face._full = self._full
        return face

    def narrow_by_value(self, objective, value):
        """Keep the points with ``objective @ x <= value``: exact, but one dense row."""
        columns = np.flatnonzero(objective)
        self.add(columns, at_most=value, coefs=objective[columns])

    def at_bound(self, objective, relaxation):
        """The LP lower bound of `objective` and the part of the face that reaches it.

        The relaxation's multipliers, rounded to integers (``<= 0`` for the inequality rows),
        give by weak duality an integer lower bound of `objective` over the face. For a point of
        the face, ``objective @ x == bound`` holds exactly when complementary slackness does:
        every row with a non-zero multiplier is tight, and every variable with a non-zero reduced
        cost sits at the bound that cost points to. The returned face is this one with those rows
        made equalities and those variables fixed: if any 0/1 point reaches the bound, its 0/1
        points are exactly the optimal ones, and it is smaller instead of a row larger. All in
        integers, so no tolerance decides what is fixed.
        """
        a_ub, b_ub = self.inequalities()
        a_eq, b_eq = self.equalities()
        y_ub = np.zeros(len(b_ub), dtype=np.int64)
        y_eq = np.zeros(len(b_eq), dtype=np.int64)
        if len(b_ub):
            y_ub = np.minimum(np.round(relaxation.ineqlin.marginals).astype(np.int64), 0)
        if len(b_eq):
            y_eq = np.round(relaxation.eqlin.marginals).astype(np.int64)
        reduced = objective - a_ub.T @ y_ub - a_eq.T @ y_eq
        up, down = reduced > 0, reduced < 0
        bound = (
            int(b_ub @ y_ub)
            + int(b_eq @ y_eq)
            + int(reduced[up] @ self.lower[up])
            + int(reduced[down] @ self.upper[down])
        )
        face = self.copy()
        inequality_rows = np.flatnonzero(~np.array(self.equal, dtype=bool))
        for i in inequality_rows[y_ub != 0]:
            face.equal[i] = True
        face.upper[up] = face.lower[up]
        face.lower[down] = face.upper[down]
        return bound, face


def _constraints(instance, choices, *, reservations_active):
    """The feasible set as a face; rows that can never bind are left out."""
    face = _Face(len(choices))
    per_turn = defaultdict(list)  # (participant, round): at most one seat
    per_session = defaultdict(list)  # (participant, session): at most one seat
    per_offering = defaultdict(list)
    open_per_offering = defaultdict(list)  # choices outside the reserved role
    for k in range(len(choices)):
        pid, oid = choices.participant_id[k], choices.offering_id[k]
        per_turn[pid, choices.round_id[k]].append(k)
        per_session[pid, choices.session_id[k]].append(k)
        per_offering[oid].append(k)
        if not _is_group(instance.participants[pid], instance.offerings[oid]):
            open_per_offering[oid].append(k)
    for ks in per_turn.values():
        if len(ks) > 1:
            face.add(ks, at_most=1)
    for ks in per_session.values():
        if len(ks) > 1:
            face.add(ks, at_most=1)
    for k in range(len(choices)):
        # A seat that takes up other rounds leaves its holder no seat there.
        pid = choices.participant_id[k]
        for rid in sorted(instance.offerings[choices.offering_id[k]].takes_up):
            if per_turn.get((pid, rid)):
                face.add([k, *per_turn[pid, rid]], at_most=1)
    for oid, ks in per_offering.items():
        offering = instance.offerings[oid]
        if offering.capacity is not None and len(ks) > offering.capacity:
            face.add(ks, at_most=offering.capacity)
        limit = _open_limit(offering, reservations_active=reservations_active)
        if limit is not None and limit != offering.capacity and len(open_per_offering[oid]) > limit:
            face.add(open_per_offering[oid], at_most=limit)
    return face


def _solve(choices, feasible):
    """A lexicographic optimum over the 0/1 points of `feasible`, and its lottery score.

    Stages: 1. maximise placements; 2. minimise third choices; 3. minimise second choices;
    4. maximise the lottery score. After each stage the face is narrowed to exactly its optimal
    0/1 points, so the next stage chooses among those only: by an LP certificate when the duals
    prove the optimum (the usual case: no row added, the face shrinks), else by a row fixing the
    optimal value. Objective coefficients are 0/1 (stages 1-3) or at most 3 * R * P (stage 4), so
    every value is an integer far below 2**53 and exact in floats.
    """
    size = len(choices)
    if size == 0:
        return np.zeros(0, dtype=np.int64), 0
    stages = [-choices.cover]
    stages += [
        (choices.rank == rank).astype(np.int64) * choices.cover
        for rank in range(MAX_CHOICES, 1, -1)
    ]
    points = choices.points
    face = feasible.copy()
    for objective in stages:
        relaxation = _relax(objective, face)
        bound, optimal_face = face.at_bound(objective, relaxation)
        x = _integral(objective, relaxation, face)
        if x is None and abs(relaxation.fun - bound) < 1e-6:
            # A fractional vertex, but the bound may still be reached: look for a 0/1 point
            # among the (far fewer) points that reach it first.
            x = _branch_and_bound(objective, optimal_face, may_be_empty=True)
        if x is not None and objective @ x == bound:
            face = optimal_face
            continue
        if x is None:
            x = _branch_and_bound(objective, face)
        face.narrow_by_value(objective, int(objective @ x))
    x = _integral(-points, _relax(-points, face), face)
    if x is None:
        x = _branch_and_bound(-points, face)
    if not feasible.contains(x):
        raise AllocationError("The solution breaks a constraint.")
    return x, int(points @ x)


def _relax(objective, face):
    """The LP relaxation over `face`, solved by HiGHS dual simplex (a vertex, with duals)."""
    a_ub, b_ub = face.inequalities()
    a_eq, b_eq = face.equalities()
    relaxation = linprog(
        objective,
        A_ub=a_ub.astype(float) if len(b_ub) else None,
        b_ub=b_ub if len(b_ub) else None,
        A_eq=a_eq.astype(float) if len(b_eq) else None,
        b_eq=b_eq if len(b_eq) else None,
        bounds=np.column_stack([face.lower, face.upper]),
        method="highs-ds",
    )
    if relaxation.status != 0:
        raise AllocationError(f"The solver failed: {relaxation.message}")
    return relaxation


def _integral(objective, relaxation, face):
    """The relaxation's solution if it is a 0/1 point of `face` (checked exactly), else None.

    Per round the constraints form a transportation problem, whose vertices are integral, so
    this is the usual case; sessions ranked in several rounds can make a vertex fractional.
    """
    x = np.round(relaxation.x).astype(np.int64)
    if np.max(np.abs(relaxation.x - x), initial=0.0) > 1e-9 or not face.contains(x):
        return None
    if abs(int(objective @ x) - relaxation.fun) > 0.5:
        raise AllocationError("The rounded solution does not reach the solver's optimum.")
    return x


def _branch_and_bound(objective, face, *, may_be_empty=False):
    """A proven 0/1 minimiser over `face` by HiGHS branch-and-bound, checked exactly.

    Returns None if `may_be_empty` and the face has no 0/1 point.

    ``mip_rel_gap=0`` matters: the default relative gap would let HiGHS stop short of the
    optimum on the large lottery-score values.
    """
    a_ub, b_ub = face.inequalities()
    a_eq, b_eq = face.equalities()
    constraints = []
    if len(b_ub):
        constraints.append(LinearConstraint(a_ub.astype(float), -np.inf, b_ub))
    if len(b_eq):
        constraints.append(LinearConstraint(a_eq.astype(float), b_eq, b_eq))
    result = milp(
        objective,
        constraints=constraints,
        integrality=np.ones(face.size),
        bounds=Bounds(face.lower, face.upper),
        options={"mip_rel_gap": 0.0},
    )
    if may_be_empty and result.status == 2:
        return None
    if result.status != 0 or result.x is None:
        raise AllocationError(f"The solver did not prove an optimum: {result.message}")
    x = np.round(result.x).astype(np.int64)
    if np.max(np.abs(result.x - x), initial=0.0) > 1e-6 or not face.contains(x):
        raise AllocationError("The solver's solution is not a 0/1 point of the constraints.")
    if abs(int(objective @ x) - result.fun) > 0.5:
        raise AllocationError("The rounded solution does not reach the solver's optimum.")
    return x


# --- output --------------------------------------------------------------------------------------


def _allocation(instance, *, seed, reservations_active, lottery, assignments, lottery_score):
    """The Allocation with every field derived from `assignments` (also used to verify)."""
    ranks = {}
    summary_counts = {rid: [0] * (MAX_CHOICES + 1) for rid in instance.round_ids}
    fill = dict.fromkeys(sorted(instance.offerings), 0)
    waiting = {rid: [] for rid in instance.round_ids}
    offering_waiting = {oid: [] for oid in sorted(instance.offerings)}
    held = defaultdict(set)
    held_rounds = defaultdict(set)
    covering = {}  # (participant, round): the rank of the seat that takes the round up
    for (pid, rid), oid in assignments.items():
        offering = instance.offerings[oid]
        held[pid].add(offering.session_id)
        held_rounds[pid].add(rid)
        rank = list(instance.participants[pid].preferences[rid]).index(oid) + 1
        for covered_rid in offering.takes_up:
            covering[pid, covered_rid] = rank
    for pid in lottery:
        participant = instance.participants[pid]
        for rid in sorted(participant.preferences):
            ranked = participant.preferences[rid]
            if not ranked:
                continue
            oid = assignments.get((pid, rid))
            rank = None if oid is None else list(ranked).index(oid) + 1
            if oid is None and (pid, rid) in covering:
                # Filled by a seat of another round: counted with its rank, nobody waits.
                ranks[pid, rid] = covering[pid, rid]
                summary_counts[rid][covering[pid, rid] - 1] += 1
                continue
            ranks[pid, rid] = rank
            summary_counts[rid][(rank or UNPLACED) - 1] += 1
            if oid is not None:
                fill[oid] += 1
                continue
            waiting[rid].append(pid)
            for option in ranked:
                # Pointless to wait for a session one already has in another round, or
                # for one that takes up a round where one has a seat.
                offering = instance.offerings[option]
                if offering.session_id not in held[pid] and not (
                    offering.takes_up & held_rounds[pid]
                ):
                    offering_waiting[option].append(pid)
    ranks = dict(sorted(ranks.items()))
    return Allocation(
        seed=seed,
        reservations_active=reservations_active,
        lottery=tuple(lottery),
        assignments=dict(sorted(assignments.items())),
        ranks=ranks,
        waiting=waiting,
        offering_waiting=offering_waiting,
        summary={rid: RoundSummary(*counts) for rid, counts in summary_counts.items()},
        fill=fill,
        lottery_score=lottery_score,
    )


# --- verification --------------------------------------------------------------------------------


class _Checks:
    """The guarantee checks of verify_allocation, sharing one index of the assignments."""

    def __init__(self, instance, allocation):
        self.instance = instance
        self.active = allocation.reservations_active
        self.assignments = allocation.assignments
        self.position = {pid: i for i, pid in enumerate(allocation.lottery)}
        self.fill = defaultdict(int)
        self.open_fill = defaultdict(int)  # seats held by participants outside the reserved role
        self.sessions = defaultdict(lambda: defaultdict(set))  # pid -> session -> rounds
        self.held = defaultdict(dict)  # pid -> round -> offering
        for (pid, rid), oid in self.assignments.items():
            offering = instance.offerings[oid]
            self.held[pid][rid] = offering
            self.fill[oid] += 1
            if not _is_group(instance.participants[pid], offering):
                self.open_fill[oid] += 1
            self.sessions[pid][offering.session_id].add(rid)

    def sessions_once(self):
        for pid, held in self.sessions.items():
            for session_id, rounds in held.items():
                if len(rounds) > 1:
                    raise AllocationError(f"Participant {pid} got session {session_id} twice.")

    def no_round_taken_up_twice(self):
        for pid, held in self.held.items():
            for offering in held.values():
                if offering.takes_up & set(held):
                    raise AllocationError(
                        f"Participant {pid} got offering {offering.id} and a seat in a round "
                        "it takes up."
                    )

    def capacities(self):
        for oid, offering in self.instance.offerings.items():
            if offering.capacity is not None and self.fill[oid] > offering.capacity:
                raise AllocationError(f"Offering {oid} is over capacity.")
            limit = _open_limit(offering, reservations_active=self.active)
            if limit is not None and self.open_fill[oid] > limit:
                raise AllocationError(f"Offering {oid} gives away reserved seats.")

    def may_hold(self, pid, offering, rid):
        """Whether `pid` may hold `offering` in round `rid` as far as sessions and the
        seats they hold in other rounds go."""
        others = {other_rid: held for other_rid, held in self.held[pid].items() if other_rid != rid}
        return (
            not (self.sessions[pid].get(offering.session_id, set()) - {rid})
            and not (offering.takes_up & set(others))
            and not any(rid in held.takes_up for held in others.values())
        )

    def fits(self, offering, *, leaving, joining):
        """Whether `offering` keeps capacity and reservations when one person replaces another.

        `leaving` and `joining` are participants or None.
        """
        oid = offering.id
        fill = self.fill[oid] - (leaving is not None) + (joining is not None)
        if offering.capacity is not None and fill > offering.capacity:
            return False
        limit = _open_limit(offering, reservations_active=self.active)
        open_fill = (
            self.open_fill[oid]
            - (leaving is not None and not _is_group(leaving, offering))
            + (joining is not None and not _is_group(joining, offering))
        )
        return limit is None or open_fill <= limit

    def outcomes(self):
        """(participant, round, held offering or None, rank or UNPLACED, ranked list)."""
        for pid in sorted(self.instance.participants):
            participant = self.instance.participants[pid]
            for rid, ranked in sorted(participant.preferences.items()):
                if not ranked:
                    continue
                oid = self.assignments.get((pid, rid))
                rank = UNPLACED if oid is None else list(ranked).index(oid) + 1
                yield participant, rid, oid, rank, list(ranked)

    def no_better_empty_seat(self):
        for participant, rid, _oid, rank, ranked in self.outcomes():
            for better in ranked[: rank - 1]:
                offering = self.instance.offerings[better]
                if self.may_hold(participant.id, offering, rid) and self.fits(
                    offering, leaving=None, joining=participant
                ):
                    raise AllocationError(
                        f"Participant {participant.id} could move up to an empty seat in "
                        f"offering {better} in round {rid}."
                    )

    def no_pairwise_exchange(self):
        """No swap that betters both, and no rank exchange that favours the earlier in the lottery.

        Whether a swap fits depends only on the two offerings, the two roles and, for the
        lottery, the two ranks, so participants are grouped by those and each group is checked
        once: linear time instead of all pairs.
        """
        # Swap: p in `mine` prefers `theirs`; q in `theirs` prefers `mine`; both better off.
        want = defaultdict(dict)  # (mine, theirs) -> role -> participant
        # Exchange: p holds `mine` at rank a (or nothing), q holds `theirs` at rank b < a,
        # p ranks `theirs` b and q ranks `mine` a. Keep the earliest p, latest q per role.
        earliest = defaultdict(dict)  # (mine, theirs, a, b) -> role -> participant
        latest = defaultdict(dict)
        for participant, rid, oid, rank, ranked in self.outcomes():
            pid = participant.id
            for other_rank, other in enumerate(ranked, start=1):
                if other == oid or not self.may_hold(pid, self.instance.offerings[other], rid):
                    continue
                if other_rank < rank:
                    if oid is not None:
                        want[oid, other].setdefault(participant.role, participant)
                    group = earliest[oid, other, rank, other_rank]
                    known = group.get(participant.role)
                    if known is None or self.position[pid] < self.position[known.id]:
                        group[participant.role] = participant
            if oid is not None:
                # As the q of an exchange: anyone unplaced ranking `oid` as `rank` may trade.
                keys = [(None, oid, UNPLACED, rank)]
                keys += [
                    (mine, oid, mine_rank, rank)
                    for mine_rank, mine in enumerate(ranked, start=1)
                    if mine_rank > rank and self.may_hold(pid, self.instance.offerings[mine], rid)
                ]
                for key in keys:
                    group = latest[key]
                    known = group.get(participant.role)
                    if known is None or self.position[pid] > self.position[known.id]:
                        group[participant.role] = participant
        offerings = self.instance.offerings
        for (mine, theirs), movers in want.items():
            for p in movers.values():
                for q in want.get((theirs, mine), {}).values():
                    if self._swap_fits(offerings[mine], p, offerings[theirs], q):
                        raise AllocationError(
                            f"Participants {p.id} and {q.id} could swap offerings {mine} and "
                            f"{theirs} and both be better off."
                        )
        for key, movers in earliest.items():
            mine, theirs = key[0], key[1]
            for p in movers.values():
                for q in latest.get(key, {}).values():
                    if self.position[p.id] >= self.position[q.id]:
                        continue
                    mine_offering = offerings[mine] if mine is not None else None
                    if self._swap_fits(mine_offering, p, offerings[theirs], q):
                        raise AllocationError(
                            f"Participant {p.id} is earlier in the lottery than {q.id} but could "
                            f"exchange outcomes with them in offering {theirs} for a better rank."
                        )

    def _swap_fits(self, mine, p, theirs, q):
        """p leaves `mine` (None: p had no seat) for `theirs`; q leaves `theirs` for `mine`."""
        if mine is not None and not self.fits(mine, leaving=p, joining=q):
            return False
        return self.fits(theirs, leaving=q, joining=p)
