import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_array
from scipy.sparse.csgraph import maximum_flow

from registrations.allocation import (
    MAX_CHOICES,
    AllocationError,
    Offering,
    Participant,
    RoundSummary,
    allocate_seats,
    draw_lottery,
    new_seed,
    verify_allocation,
)

# --- independent reference code: feasibility, brute force, max-flow ------------------------------


def is_feasible(assignments, *, offerings, participants, reservations_active):
    """The rules, written out plainly: ranked, one session once, capacities, reserved seats."""
    offering = {o.id: o for o in offerings}
    role = {p.id: p.role for p in participants}
    preferences = {p.id: p.preferences for p in participants}
    taken, open_taken, held = {}, {}, set()
    for (pid, rid), oid in assignments.items():
        if oid not in preferences[pid].get(rid, []):
            return False
        session = (pid, offering[oid].session_id)
        if session in held:
            return False
        held.add(session)
        taken[oid] = taken.get(oid, 0) + 1
        if role[pid] != offering[oid].reserved_role:
            open_taken[oid] = open_taken.get(oid, 0) + 1
    for oid, count in taken.items():
        o = offering[oid]
        if o.capacity is None:
            continue
        limit = o.capacity - o.reserved_seats if reservations_active else o.capacity
        if count > o.capacity or open_taken.get(oid, 0) > limit:
            return False
    return True


def rank_of(participant, rid, oid):
    return None if oid is None else participant.preferences[rid].index(oid) + 1


def score(assignments, *, offerings, participants, seed):
    """(placements, -thirds, -seconds, lottery score): larger is better, compared in order.

    The lottery score is the documented one: the sum over placements of
    weight(p, r) * (4 - rank) with weight(p, r) = R * (P - i) - j, i the lottery index of p and
    j the index of round r, both counted from 0.
    """
    lottery = draw_lottery([p.id for p in participants], seed=seed)
    rounds = sorted({o.round_id for o in offerings})
    placements = thirds = seconds = lottery_score = 0
    for i, pid in enumerate(lottery):
        participant = next(p for p in participants if p.id == pid)
        for j, rid in enumerate(rounds):
            rank = rank_of(participant, rid, assignments.get((pid, rid)))
            if rank is None:
                continue
            placements += 1
            thirds += rank == 3
            seconds += rank == 2
            weight = len(rounds) * (len(lottery) - i) - j
            lottery_score += weight * (MAX_CHOICES + 1 - rank)
    return placements, -thirds, -seconds, lottery_score


def brute_force_best(*, offerings, participants, seed, reservations_active):
    """The best score over every feasible assignment, by depth-first enumeration."""
    turns = [
        (p.id, rid, ranked)
        for p in participants
        for rid, ranked in sorted(p.preferences.items())
        if ranked
    ]
    best = None

    def visit(index, assignments):
        nonlocal best
        if not is_feasible(
            assignments,
            offerings=offerings,
            participants=participants,
            reservations_active=reservations_active,
        ):
            return
        if index == len(turns):
            found = score(assignments, offerings=offerings, participants=participants, seed=seed)
            best = found if best is None or found > best else best
            return
        pid, rid, ranked = turns[index]
        visit(index + 1, assignments)
        for oid in ranked:
            visit(index + 1, {**assignments, (pid, rid): oid})

    visit(0, {})
    return best


def max_placements_by_flow(*, offerings, participants, reservations_active):
    """Maximum flow source -> (participant, round) -> [open gate ->] offering -> sink.

    Participants outside an offering's reserved role pass its open gate, whose capacity is the
    number of seats open to them. Exact only when nobody ranks a session in two rounds.
    """
    nodes = {"source": 0, "sink": 1}

    def node(key):
        return nodes.setdefault(key, len(nodes))

    edges = []
    for o in offerings:
        capacity = len(participants) * MAX_CHOICES if o.capacity is None else o.capacity
        edges.append((node(("offering", o.id)), 1, capacity))
        limit = capacity - o.reserved_seats if reservations_active else capacity
        edges.append((node(("gate", o.id)), node(("offering", o.id)), limit))
    offering = {o.id: o for o in offerings}
    for p in participants:
        for rid, ranked in p.preferences.items():
            if not ranked:
                continue
            edges.append((0, node(("turn", p.id, rid)), 1))
            for oid in ranked:
                gate = "offering" if p.role == offering[oid].reserved_role else "gate"
                edges.append((node(("turn", p.id, rid)), node((gate, oid)), 1))
    tails, heads, capacities = zip(*edges, strict=True)
    graph = csr_array(
        (np.array(capacities, dtype=np.int32), (tails, heads)), shape=(len(nodes), len(nodes))
    )
    return maximum_flow(graph, 0, 1).flow_value


def outcome(allocation, participant, rid):
    """(offering or None, rank with 4 for unplaced)."""
    oid = allocation.assignments.get((participant.id, rid))
    return oid, rank_of(participant, rid, oid) or MAX_CHOICES + 1


def move_to_empty_seat(allocation, *, offerings, participants):
    """Every (participant, round, offering) where a better-ranked empty seat could be taken."""
    found = []
    for p in participants:
        for rid, ranked in p.preferences.items():
            _oid, rank = outcome(allocation, p, rid)
            for better in ranked[: rank - 1]:
                moved = {**allocation.assignments, (p.id, rid): better}
                if is_feasible(
                    moved,
                    offerings=offerings,
                    participants=participants,
                    reservations_active=allocation.reservations_active,
                ):
                    found.append((p.id, rid, better))
    return found


def pairs_in_round(allocation, participants):
    for rid in sorted({rid for p in participants for rid in p.preferences}):
        ranking = [p for p in participants if p.preferences.get(rid)]
        for p in ranking:
            for q in ranking:
                if p.id != q.id:
                    yield rid, p, q


def improving_swaps(allocation, *, offerings, participants):
    """Every pair in a round that could swap seats with both strictly better off."""
    found = []
    for rid, p, q in pairs_in_round(allocation, participants):
        (p_oid, p_rank), (q_oid, q_rank) = outcome(allocation, p, rid), outcome(allocation, q, rid)
        if p_oid is None or q_oid is None or p_oid == q_oid:
            continue
        if q_oid not in p.preferences[rid] or p_oid not in q.preferences[rid]:
            continue
        better = rank_of(p, rid, q_oid) < p_rank and rank_of(q, rid, p_oid) < q_rank
        swapped = {**allocation.assignments, (p.id, rid): q_oid, (q.id, rid): p_oid}
        if better and is_feasible(
            swapped,
            offerings=offerings,
            participants=participants,
            reservations_active=allocation.reservations_active,
        ):
            found.append((rid, p.id, q.id))
    return found


def lottery_exchanges(allocation, *, offerings, participants):
    """Every pair in a round where the one earlier in the lottery could trade up by exchanging.

    p (earlier) has rank a (or no seat), q has rank b < a, p ranks q's offering b and q ranks
    p's offering a (or gives up its seat when p has none): the exchange keeps every count.
    """
    position = {pid: i for i, pid in enumerate(allocation.lottery)}
    found = []
    for rid, p, q in pairs_in_round(allocation, participants):
        (p_oid, p_rank), (q_oid, q_rank) = outcome(allocation, p, rid), outcome(allocation, q, rid)
        if position[p.id] > position[q.id] or q_oid is None or q_rank >= p_rank:
            continue
        if q_oid not in p.preferences[rid] or rank_of(p, rid, q_oid) != q_rank:
            continue
        exchanged = {**allocation.assignments, (p.id, rid): q_oid}
        if p_oid is None:
            del exchanged[q.id, rid]
        elif p_oid in q.preferences[rid] and rank_of(q, rid, p_oid) == p_rank:
            exchanged[q.id, rid] = p_oid
        else:
            continue
        if is_feasible(
            exchanged,
            offerings=offerings,
            participants=participants,
            reservations_active=allocation.reservations_active,
        ):
            found.append((rid, p.id, q.id))
    return found


def assert_guarantees(allocation, *, offerings, participants):
    assert is_feasible(
        allocation.assignments,
        offerings=offerings,
        participants=participants,
        reservations_active=allocation.reservations_active,
    )
    assert move_to_empty_seat(allocation, offerings=offerings, participants=participants) == []
    assert improving_swaps(allocation, offerings=offerings, participants=participants) == []
    assert lottery_exchanges(allocation, offerings=offerings, participants=participants) == []
    verify_allocation(allocation, offerings=offerings, participants=participants)


# --- hand-checked cases --------------------------------------------------------------------------

X, Y, Z, Q = 1, 2, 3, 4  # offering ids of round 1; each is its own session (id * 10)


def seat(oid, *, capacity=1, round_id=1, session_id=None, **kwargs):
    return Offering(
        id=oid,
        round_id=round_id,
        session_id=oid * 10 if session_id is None else session_id,
        capacity=capacity,
        **kwargs,
    )


def person(pid, *ranked, role="resident", round_id=1):
    return Participant(id=pid, role=role, preferences={round_id: list(ranked)})


@pytest.mark.parametrize("seed", range(10))
def test_allocate_seats_places_everyone_before_granting_a_first_choice(seed):
    # A ranks X then Y, B ranks only X; one seat each. X to A leaves B without a seat (one
    # placement); X to B and Y to A places both (two). Two placements win, whatever the lottery.
    offerings = [seat(X), seat(Y)]
    participants = [person(1, X, Y), person(2, X)]

    allocation = allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=False
    )

    assert allocation.assignments == {(1, 1): Y, (2, 1): X}
    assert allocation.ranks == {(1, 1): 2, (2, 1): 1}
    assert allocation.summary == {1: RoundSummary(first=1, second=1, third=0, unplaced=0)}


@pytest.mark.parametrize("seed", range(10))
def test_allocate_seats_prefers_two_second_choices_to_a_first_and_a_third(seed):
    # C ranks only Q, so Q goes to C (else C goes without). Then X and Y are left for A and B:
    # A: X (1st), B: Y (3rd)  -> ranks 1 + 3, one third choice;
    # A: Y (2nd), B: X (2nd)  -> ranks 2 + 2, no third choice.
    # The rank sums tie; fewer third choices decides, whatever the lottery.
    offerings = [seat(X), seat(Y), seat(Q)]
    participants = [person(1, X, Y), person(2, Q, X, Y), person(3, Q)]

    allocation = allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=False
    )

    assert allocation.assignments == {(1, 1): Y, (2, 1): X, (3, 1): Q}
    assert allocation.summary == {1: RoundSummary(first=1, second=2, third=0, unplaced=0)}


@pytest.mark.parametrize("seed", range(10))
def test_allocate_seats_gives_first_choices_when_they_fit(seed):
    # A: X, Y and B: Y, X. Both first choices fit (no second choice at all) and beat the
    # crossed assignment with two second choices.
    offerings = [seat(X), seat(Y)]
    participants = [person(1, X, Y), person(2, Y, X)]

    allocation = allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=False
    )

    assert allocation.assignments == {(1, 1): X, (2, 1): Y}


@pytest.mark.parametrize("seed", range(10))
def test_allocate_seats_worked_example_of_the_docs(seed):
    # X has 2 seats, Y and Z one each: 4 seats for 5 people, so 4 placements at most, and only
    # with Z taken. Z is ranked by A (3rd) and B (2nd): B takes it (a third choice is worse).
    # A and C then take X as first choice; Y is the first choice of D and E, whose claims are
    # equal: the earlier of the two in the lottery gets Y. D giving up Y for X (2nd) would
    # push A or C out of X: one more second choice, so never. Profile: 3 firsts, 1 second.
    offerings = [seat(X, capacity=2), seat(Y), seat(Z)]
    a, b, c, d, e = 1, 2, 3, 4, 5
    participants = [person(a, X, Y, Z), person(b, X, Z), person(c, X, Y), person(d, Y, X)]
    participants.append(person(e, Y))
    lottery = draw_lottery([a, b, c, d, e], seed=seed)
    winner, loser = sorted([d, e], key=lottery.index)

    allocation = allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=False
    )

    assert allocation.assignments == {(a, 1): X, (b, 1): Z, (c, 1): X, (winner, 1): Y}
    assert allocation.waiting == {1: [loser]}
    assert allocation.offering_waiting == {X: [d] if loser == d else [], Y: [loser], Z: []}
    assert allocation.summary == {1: RoundSummary(first=3, second=1, third=0, unplaced=1)}
    assert allocation.fill == {X: 2, Y: 1, Z: 1}


def test_allocate_seats_tie_break_follows_the_lottery_and_is_fair():
    # Two participants with identical claims on one seat: the one earlier in the lottery wins.
    # Over 200 fixed seeds each should win about half (binomial, sd ~7): 70..130 is > 4 sd.
    offerings = [seat(X)]
    participants = [person(1, X), person(2, X)]
    wins = {1: 0, 2: 0}

    for seed in range(200):
        allocation = allocate_seats(
            participants, offerings=offerings, seed=seed, reservations_active=False
        )
        first, second = allocation.lottery
        assert allocation.assignments == {(first, 1): X}
        assert allocation.waiting == {1: [second]}
        wins[first] += 1

    assert 70 <= wins[1] <= 130
    assert wins[1] + wins[2] == 200


def test_allocate_seats_waiting_lists_follow_the_lottery():
    # Five people want the one seat of X; four wait, in lottery order, also on Y's list (full).
    offerings = [seat(X), seat(Y, capacity=0)]
    participants = [person(pid, X, Y) for pid in (5, 3, 9, 1, 7)]

    allocation = allocate_seats(
        participants, offerings=offerings, seed=42, reservations_active=False
    )

    lottery = list(draw_lottery([5, 3, 9, 1, 7], seed=42))
    assert allocation.assignments == {(lottery[0], 1): X}
    assert allocation.waiting == {1: lottery[1:]}
    assert allocation.offering_waiting == {X: lottery[1:], Y: lottery[1:]}


def test_allocate_seats_reserved_seats_go_to_the_group_while_active():
    # X: 5 seats, 2 reserved for residents. Five civil servants and one resident rank X.
    # Active: civil servants get at most 3 seats; the resident gets one whatever the lottery.
    offerings = [seat(X, capacity=5, reserved_role="resident", reserved_seats=2)]
    servants = [person(pid, X, role="civil_servant") for pid in range(1, 6)]
    resident = person(6, X, role="resident")
    participants = [*servants, resident]

    allocation = allocate_seats(participants, offerings=offerings, seed=7, reservations_active=True)

    servant_order = [pid for pid in allocation.lottery if pid != 6]
    assert allocation.assignments == {(pid, 1): X for pid in sorted([6, *servant_order[:3]])}
    assert allocation.waiting == {1: servant_order[3:]}
    assert allocation.fill == {X: 4}


def test_allocate_seats_reserved_seats_are_released_to_everyone():
    # The same six people after the release date: five seats, the last in the lottery waits.
    offerings = [seat(X, capacity=5, reserved_role="resident", reserved_seats=2)]
    participants = [person(pid, X, role="civil_servant") for pid in range(1, 6)]
    participants.append(person(6, X, role="resident"))

    allocation = allocate_seats(
        participants, offerings=offerings, seed=7, reservations_active=False
    )

    assert allocation.assignments == {(pid, 1): X for pid in sorted(allocation.lottery[:5])}
    assert allocation.waiting == {1: [allocation.lottery[5]]}
    assert allocation.fill == {X: 5}


def test_allocate_seats_reserved_seats_stay_empty_while_active_without_the_group():
    offerings = [seat(X, capacity=3, reserved_role="resident", reserved_seats=1)]
    participants = [person(pid, X, role="professional") for pid in (1, 2, 3)]

    allocation = allocate_seats(participants, offerings=offerings, seed=1, reservations_active=True)

    assert allocation.fill == {X: 2}
    assert allocation.waiting == {1: [allocation.lottery[2]]}


def two_rounds_with_session_s():
    """Session 99 runs in round 1 (offering 1) and round 2 (offering 3); 2 and 4 are others."""
    return [
        seat(1, round_id=1, session_id=99),
        seat(2, round_id=1),
        seat(3, round_id=2, session_id=99),
        seat(4, round_id=2),
    ]


def test_allocate_seats_never_gives_a_session_twice():
    # A ranks session 99 first in both rounds. It can have it once; the other round gets the
    # second choice. Both ways give one first and one second choice; the earlier round gets
    # the better rank (the round term of the lottery weight).
    offerings = two_rounds_with_session_s()
    participants = [Participant(id=1, role="resident", preferences={1: [1, 2], 2: [3, 4]})]

    allocation = allocate_seats(
        participants, offerings=offerings, seed=3, reservations_active=False
    )

    assert allocation.assignments == {(1, 1): 1, (1, 2): 4}
    assert allocation.ranks == {(1, 1): 1, (1, 2): 2}


def test_allocate_seats_moves_a_repeated_session_to_where_it_places_more():
    # B wants session 99 only in round 1 (one seat). A ranks it first in both rounds. Giving A
    # the round-1 seat leaves B without one; so B gets round 1, A gets 99 in round 2.
    offerings = two_rounds_with_session_s()
    participants = [
        Participant(id=1, role="resident", preferences={1: [1, 2], 2: [3, 4]}),
        Participant(id=2, role="resident", preferences={1: [1]}),
    ]

    allocation = allocate_seats(
        participants, offerings=offerings, seed=3, reservations_active=False
    )

    assert allocation.assignments == {(1, 1): 2, (1, 2): 3, (2, 1): 1}


def test_allocate_seats_does_not_queue_for_a_session_already_held():
    # A holds session 99 in round 1 and ranked only it in round 2 (offering 3): A is unplaced
    # in round 2 and on its waiting list, but not on offering 3's, which A could never take.
    offerings = two_rounds_with_session_s()
    participants = [Participant(id=1, role="resident", preferences={1: [1], 2: [3]})]

    allocation = allocate_seats(
        participants, offerings=offerings, seed=3, reservations_active=False
    )

    assert allocation.assignments == {(1, 1): 1}
    assert allocation.waiting == {1: [], 2: [1]}
    assert allocation.offering_waiting == {1: [], 2: [], 3: [], 4: []}


def test_allocate_seats_without_capacity_places_everyone():
    offerings = [seat(X, capacity=None)]
    participants = [person(pid, X) for pid in range(1, 6)]

    allocation = allocate_seats(participants, offerings=offerings, seed=1, reservations_active=True)

    assert allocation.fill == {X: 5}
    assert allocation.waiting == {1: []}


def test_allocate_seats_with_nobody_ranking_anything():
    offerings = [seat(X)]
    participants = [Participant(id=1, role="resident", preferences={}), person(2)]

    allocation = allocate_seats(participants, offerings=offerings, seed=1, reservations_active=True)

    assert allocation.assignments == {}
    assert allocation.ranks == {}
    assert allocation.summary == {1: RoundSummary(first=0, second=0, third=0, unplaced=0)}
    assert allocation.lottery_score == 0


def test_allocate_seats_solves_an_instance_whose_relaxation_is_fractional():
    # Sessions ranked in several rounds make the LP relaxation fractional here (10.5 placements
    # against 10 for whole seats): the engine must still return the exact optimum.
    offerings = [
        Offering(1, 1, 3, 1), Offering(2, 1, 4, 1), Offering(3, 1, 1, 2),
        Offering(4, 2, 3, 2), Offering(5, 2, 2, 1), Offering(6, 2, 4, 1), Offering(7, 2, 1, 1),
        Offering(8, 3, 2, 2), Offering(9, 3, 4, 1), Offering(10, 3, 3, 1), Offering(11, 3, 1, 1),
    ]  # fmt: skip
    participants = [
        Participant(1, None, {1: [2], 2: [7], 3: [10, 8]}),
        Participant(2, None, {1: [], 2: [6, 5, 7], 3: [11]}),
        Participant(3, None, {1: [1, 2], 2: [7], 3: [9, 8, 10]}),
        Participant(4, None, {1: [1, 2], 2: [4, 5], 3: [9, 10]}),
        Participant(5, None, {1: [1, 2], 2: [5], 3: [8, 9]}),
    ]

    allocation = allocate_seats(
        participants, offerings=offerings, seed=0, reservations_active=False
    )

    best = brute_force_best(
        offerings=offerings, participants=participants, seed=0, reservations_active=False
    )
    found = score(allocation.assignments, offerings=offerings, participants=participants, seed=0)
    assert found == best
    assert found[0] == 10
    assert_guarantees(allocation, offerings=offerings, participants=participants)


# --- reproducibility -----------------------------------------------------------------------------


def random_event(*, seed, people=60, rounds=3, sessions=5):
    rng = random.Random(seed)
    offerings = [
        Offering(
            id=r * 10 + s,
            round_id=r,
            session_id=s,
            capacity=rng.randint(5, 15),
            reserved_role="resident" if s == 1 else None,
            reserved_seats=3 if s == 1 else 0,
        )
        for r in range(1, rounds + 1)
        for s in range(1, sessions + 1)
    ]
    participants = [
        Participant(
            id=pid,
            role=rng.choice(["resident", "other"]),
            preferences={
                r: rng.sample([r * 10 + s for s in range(1, sessions + 1)], 3)
                for r in range(1, rounds + 1)
            },
        )
        for pid in range(1, people + 1)
    ]
    return offerings, participants


def test_allocate_seats_same_input_and_seed_give_the_same_allocation():
    offerings, participants = random_event(seed=5)

    first = allocate_seats(participants, offerings=offerings, seed=11, reservations_active=True)
    again = allocate_seats(participants, offerings=offerings, seed=11, reservations_active=True)
    shuffled = allocate_seats(
        list(reversed(participants)),
        offerings=list(reversed(offerings)),
        seed=11,
        reservations_active=True,
    )

    assert again == first
    assert shuffled == first
    verify_allocation(first, offerings=offerings, participants=participants)


def test_allocate_seats_another_seed_draws_another_lottery_with_the_same_profile():
    offerings, participants = random_event(seed=5)

    one = allocate_seats(participants, offerings=offerings, seed=11, reservations_active=True)
    other = allocate_seats(participants, offerings=offerings, seed=12, reservations_active=True)

    def totals(allocation):
        return [sum(getattr(s, name) for s in allocation.summary.values()) for name in
                ("first", "second", "third", "unplaced")]  # fmt: skip

    assert one.lottery != other.lottery
    assert totals(one) == totals(other)


def test_draw_lottery_is_a_seeded_shuffle_of_the_sorted_ids():
    expected = [1, 2, 3, 4, 5, 6]
    random.Random(99).shuffle(expected)

    assert draw_lottery([6, 2, 4, 1, 3, 5], seed=99) == tuple(expected)
    assert draw_lottery([1, 2, 3, 4, 5, 6], seed=99) == tuple(expected)


def test_new_seed_fits_a_positive_integer_field():
    seeds = {new_seed() for _ in range(20)}

    assert all(0 <= seed < 2**31 for seed in seeds)
    assert len(seeds) > 1


# --- bad input and verify ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offerings", "participants", "message"),
    [
        ([seat(X)], [person(1, 7)], "unknown offering 7"),
        ([seat(X), seat(Y, round_id=2)], [person(1, Y)], "runs in round 2"),
        ([seat(X)], [person(1, X, X)], "ranks an offering twice"),
        ([seat(o) for o in range(1, 5)], [person(1, 1, 2, 3, 4)], "more than 3"),
        ([seat(X), seat(X)], [], "Offering 1 appears twice"),
        ([seat(X)], [person(1, X), person(1, X)], "Participant 1 appears twice"),
        ([seat(X, capacity=2, reserved_role="resident", reserved_seats=3)], [], "more seats"),
        ([seat(X, reserved_seats=1)], [], "without a role"),
        ([seat(X, capacity=None, reserved_role="resident", reserved_seats=1)], [], "no capacity"),
        ([seat(X, capacity=-1)], [], "negative capacity"),
    ],
)
def test_allocate_seats_rejects_inconsistent_input(offerings, participants, message):
    with pytest.raises(ValueError, match=message):
        allocate_seats(participants, offerings=offerings, seed=1, reservations_active=True)


def test_allocate_seats_rejects_a_negative_seed():
    with pytest.raises(ValueError, match="non-negative"):
        allocate_seats([person(1, X)], offerings=[seat(X)], seed=-1, reservations_active=True)


def tampered(assignments, *, offerings, participants, reservations_active=False, seed=4):
    """An allocation with the given seats and the other fields made to match them."""
    honest = allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=reservations_active
    )
    return replace(honest, assignments=assignments)


@pytest.mark.parametrize(
    ("offerings", "participants", "assignments", "reservations_active", "message"),
    [
        ([seat(X)], [person(1, X), person(2, X)], {(1, 1): X, (2, 1): X}, False, "capacity"),
        (
            [seat(X, capacity=2, reserved_role="resident", reserved_seats=1)],
            [person(1, X, role="other"), person(2, X, role="other")],
            {(1, 1): X, (2, 1): X},
            True,
            "reserved seats",
        ),
        (
            two_rounds_with_session_s(),
            [Participant(1, "resident", {1: [1], 2: [3]})],
            {(1, 1): 1, (1, 2): 3},
            False,
            "session 99 twice",
        ),
        ([seat(X), seat(Y)], [person(1, X)], {(1, 1): Y}, False, "without ranking it"),
        ([seat(X), seat(Y)], [person(1, X, Y)], {(1, 1): Y}, False, "empty seat"),
        (
            [seat(X), seat(Y)],
            [person(1, X, Y), person(2, Y, X)],
            {(1, 1): Y, (2, 1): X},
            False,
            "both be better off",
        ),
    ],
)
def test_verify_allocation_rejects_a_broken_guarantee(
    offerings, participants, assignments, reservations_active, message
):
    allocation = tampered(
        assignments,
        offerings=offerings,
        participants=participants,
        reservations_active=reservations_active,
    )

    with pytest.raises(AllocationError, match=message):
        verify_allocation(allocation, offerings=offerings, participants=participants)


def test_verify_allocation_rejects_a_lottery_loser_holding_the_seat():
    offerings = [seat(X)]
    participants = [person(1, X), person(2, X)]
    honest = allocate_seats(participants, offerings=offerings, seed=4, reservations_active=False)
    first, second = honest.lottery
    allocation = replace(honest, assignments={(second, 1): X})

    with pytest.raises(AllocationError, match="earlier in the lottery"):
        verify_allocation(allocation, offerings=offerings, participants=participants)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lottery", (2, 1, 3)),
        ("fill", {X: 0, Y: 0}),
        ("waiting", {1: []}),
        ("summary", {1: RoundSummary(first=3, second=0, third=0, unplaced=0)}),
        ("lottery_score", 0),
    ],
)
def test_verify_allocation_rejects_derived_fields_that_do_not_match(field, value):
    offerings = [seat(X), seat(Y)]
    participants = [person(1, X, Y), person(2, X, Y), person(3, X, Y)]
    honest = allocate_seats(participants, offerings=offerings, seed=4, reservations_active=False)
    if field == "lottery" and honest.lottery == value:
        value = tuple(reversed(value))
    allocation = replace(honest, **{field: value})

    with pytest.raises(AllocationError):
        verify_allocation(allocation, offerings=offerings, participants=participants)


# --- properties on random instances --------------------------------------------------------------

ROLES = ["resident", "professional"]


@st.composite
def instances(draw, *, max_people, max_rounds, max_sessions, repeat_sessions=True):
    """Offerings, participants, seed and reservation flag of a random event.

    With `repeat_sessions`, a session may run in several rounds (so "never twice" can bind);
    without, each offering is its own session.
    """
    rounds = draw(st.integers(1, max_rounds))
    offerings = []
    for rid in range(1, rounds + 1):
        sessions = draw(st.lists(st.integers(1, max_sessions), min_size=1, unique=True))
        for sid in sessions:
            capacity = draw(st.one_of(st.integers(0, 3), st.none()))
            reserved = draw(st.integers(0, capacity or 0))
            offerings.append(
                Offering(
                    id=len(offerings) + 1,
                    round_id=rid * 10,
                    session_id=sid if repeat_sessions else rid * 100 + sid,
                    capacity=capacity,
                    reserved_role=draw(st.sampled_from(ROLES)) if reserved else None,
                    reserved_seats=reserved,
                )
            )
    ids = draw(st.lists(st.integers(1, 500), min_size=1, max_size=max_people, unique=True))
    participants = []
    for pid in ids:
        preferences = {}
        for rid in range(10, rounds * 10 + 1, 10):
            options = [o.id for o in offerings if o.round_id == rid]
            ranked = draw(
                st.lists(
                    st.sampled_from(options), max_size=min(MAX_CHOICES, len(options)), unique=True
                )
            )
            if ranked or draw(st.booleans()):
                preferences[rid] = ranked
        participants.append(
            Participant(id=pid, role=draw(st.sampled_from(ROLES)), preferences=preferences)
        )
    seed = draw(st.integers(0, 2**31 - 1))
    return offerings, participants, seed, draw(st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_people=4, max_rounds=2, max_sessions=3))
def test_allocate_seats_is_optimal_on_tiny_instances(instance):
    offerings, participants, seed, reservations_active = instance

    allocation = allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=reservations_active
    )

    best = brute_force_best(
        offerings=offerings,
        participants=participants,
        seed=seed,
        reservations_active=reservations_active,
    )
    found = score(allocation.assignments, offerings=offerings, participants=participants, seed=seed)
    assert found == best
    assert allocation.lottery_score == best[3]
    assert_guarantees(allocation, offerings=offerings, participants=participants)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_people=14, max_rounds=3, max_sessions=4, repeat_sessions=False))
def test_allocate_seats_places_as_many_as_a_maximum_flow(instance):
    offerings, participants, seed, reservations_active = instance

    allocation = allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=reservations_active
    )

    assert len(allocation.assignments) == max_placements_by_flow(
        offerings=offerings, participants=participants, reservations_active=reservations_active
    )
    assert_guarantees(allocation, offerings=offerings, participants=participants)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_people=14, max_rounds=3, max_sessions=4))
def test_allocate_seats_keeps_every_guarantee_with_repeated_sessions(instance):
    offerings, participants, seed, reservations_active = instance

    allocation = allocate_seats(
        participants, offerings=offerings, seed=seed, reservations_active=reservations_active
    )

    assert len(allocation.assignments) <= max_placements_by_flow(
        offerings=offerings, participants=participants, reservations_active=reservations_active
    )
    assert sum(s.unplaced for s in allocation.summary.values()) == len(allocation.ranks) - len(
        allocation.assignments
    )
    assert_guarantees(allocation, offerings=offerings, participants=participants)


# --- sessions across rounds (issue 17) -----------------------------------------------------------

# Round 1: offering 1 (a walk, 2 seats) takes up round 2; offering 2 (1 seat). Round 2: offering 3.
SPAN_OFFERINGS = [
    Offering(id=1, round_id=1, session_id=1, capacity=2, takes_up=frozenset({2})),
    Offering(id=2, round_id=1, session_id=2, capacity=1),
    Offering(id=3, round_id=2, session_id=3, capacity=5),
]


def span_participants(count):
    return [Participant(id=pid, role=None, preferences={1: [1, 2], 2: [3]}) for pid in range(count)]


def test_a_seat_across_rounds_leaves_nothing_else_in_the_rounds_it_takes_up():
    participants = span_participants(3)

    result = allocate_seats(
        participants, offerings=SPAN_OFFERINGS, seed=4, reservations_active=False
    )
    verify_allocation(result, offerings=SPAN_OFFERINGS, participants=participants)

    walkers = [pid for (pid, rid), oid in result.assignments.items() if oid == 1]
    assert len(walkers) == 2 == result.fill[1]  # its seats counted once, in its own round
    for pid in walkers:
        assert (pid, 2) not in result.assignments  # nothing in the round it takes up
        assert result.ranks[pid, 2] == 1  # that round counts as filled with the walk's rank
        assert all(pid not in queue for queue in result.offering_waiting.values())
    [other] = set(range(3)) - set(walkers)
    assert result.assignments[other, 1] == 2 and result.assignments[other, 2] == 3
    assert result.summary[2] == RoundSummary(first=3, second=0, third=0, unplaced=0)


def test_the_first_choice_across_rounds_is_not_traded_for_two_lesser_seats():
    """Counting the walk as one seat would give everyone offering 2 and 3 instead."""
    offerings = [replace(SPAN_OFFERINGS[0], capacity=1), replace(SPAN_OFFERINGS[1], capacity=5)]
    offerings.append(SPAN_OFFERINGS[2])
    participants = span_participants(1)

    result = allocate_seats(participants, offerings=offerings, seed=1, reservations_active=False)

    assert result.assignments == {(0, 1): 1}


def test_verify_refuses_a_seat_in_a_round_taken_up():
    participants = span_participants(1)
    result = allocate_seats(
        participants, offerings=SPAN_OFFERINGS, seed=1, reservations_active=False
    )
    broken = replace(result, assignments={(0, 1): 1, (0, 2): 3})

    with pytest.raises(AllocationError, match="takes up"):
        verify_allocation(broken, offerings=SPAN_OFFERINGS, participants=participants)
