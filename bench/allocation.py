"""Benchmark the preference-mode allocation: 2,000 participants, 4 rounds of 15 sessions.

Run from the project root:  python bench/allocation.py [--runs N] [--seed S]

Generates a reproducible event with skewed popularity (a few sessions much in demand), sessions
offered in more than one round (so "never the same session twice" binds), reserved seats (40 %) for
residents on the most popular sessions, and participants who rank three offerings per round (some
fewer, some skip a round). Allocates with reservations active and released, verifies every run,
and prints the time per run and the outcome per round.
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registrations.allocation import (
    MAX_CHOICES,
    Offering,
    Participant,
    allocate_seats,
    verify_allocation,
)

PARTICIPANTS = 2_000
ROUNDS = 4
SESSIONS_PER_ROUND = 15
SESSIONS = 24  # distinct sessions; most are offered in two or three of the four rounds
ROLES = ["resident"] * 30 + ["civil_servant"] * 30 + ["professional"] * 25 + ["other"] * 15


def build_event(*, seed):
    """Offerings and participants; total capacity per round is about 1.05 x the demand."""
    rng = random.Random(seed)
    session_ids = list(range(1, SESSIONS + 1))
    popularity = {sid: 1 / (rank**0.9) for rank, sid in enumerate(session_ids, start=1)}
    offerings = []
    for round_id in range(1, ROUNDS + 1):
        for session_id in sorted(rng.sample(session_ids, SESSIONS_PER_ROUND)):
            capacity = rng.randint(110, 170)
            # 40 % for residents on the six most popular sessions.
            reserved = capacity * 2 // 5 if session_id <= 6 else 0
            offerings.append(
                Offering(
                    id=round_id * 100 + session_id,
                    round_id=round_id,
                    session_id=session_id,
                    capacity=capacity,
                    reserved_role="resident" if reserved else None,
                    reserved_seats=reserved,
                )
            )
    by_round = {
        round_id: [o for o in offerings if o.round_id == round_id]
        for round_id in range(1, ROUNDS + 1)
    }
    participants = []
    for pid in range(1, PARTICIPANTS + 1):
        preferences = {}
        for round_id, options in by_round.items():
            if rng.random() < 0.05:
                continue  # skips this round
            count = MAX_CHOICES if rng.random() < 0.85 else rng.randint(1, MAX_CHOICES - 1)
            weights = [popularity[o.session_id] for o in options]
            ranked = []
            while len(ranked) < count:
                pick = rng.choices(options, weights=weights)[0]
                if pick.id not in ranked:
                    ranked.append(pick.id)
            preferences[round_id] = ranked
        participants.append(Participant(id=pid, role=rng.choice(ROLES), preferences=preferences))
    return offerings, participants


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="allocations per reservation setting")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the generated event")
    args = parser.parse_args()

    offerings, participants = build_event(seed=args.seed)
    choices = sum(len(r) for p in participants for r in p.preferences.values())
    seats = sum(o.capacity for o in offerings)
    session_of = {o.id: o.session_id for o in offerings}
    repeating = sum(
        1
        for p in participants
        if len(ranked := [session_of[o] for r in p.preferences.values() for o in r])
        > len(set(ranked))
    )
    print(
        f"{len(participants)} participants, {ROUNDS} rounds x {SESSIONS_PER_ROUND} sessions, "
        f"{choices} ranked choices, {seats} seats; "
        f"{repeating} participants rank a session in more than one round"
    )
    timings = []
    for reservations_active in (True, False):
        for run in range(args.runs):
            seed = 1000 + run
            started = time.perf_counter()
            allocation = allocate_seats(
                participants,
                offerings=offerings,
                seed=seed,
                reservations_active=reservations_active,
            )
            solved = time.perf_counter()
            verify_allocation(allocation, offerings=offerings, participants=participants)
            verified = time.perf_counter()
            timings.append(solved - started)
            print(
                f"\nreservations {'active' if reservations_active else 'released'}, "
                f"seed {seed}: allocate {solved - started:.2f} s, verify {verified - solved:.2f} s"
            )
            for round_id, summary in allocation.summary.items():
                print(
                    f"  round {round_id}: first {summary.first:4d}  second {summary.second:4d}  "
                    f"third {summary.third:4d}  unplaced {summary.unplaced:4d}"
                )
    print(
        f"\nallocation time over {len(timings)} runs: "
        f"mean {sum(timings) / len(timings):.2f} s, max {max(timings):.2f} s"
    )


if __name__ == "__main__":
    main()
