"""registrations.seats: every seat rule, exercised through the module's own interface."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from registrations.models import Registration, SeatReservation, SessionChoice, Status
from registrations.seats import EventSeats, Programme, validated_offerings
from tests.factories import build_programme, build_span_programme, offerings_by_round

pytestmark = pytest.mark.django_db


def new_registration(event, email, *, role="resident"):
    return Registration(
        event=event, email=email, name="Deelnemer", role=role, consented_at=timezone.now()
    )


def register(event, email, offerings=(), *, role="resident", programme=None):
    """Admit and claim as the first-come service does, through the seat module alone."""
    with transaction.atomic():
        registration = new_registration(event, email, role=role)
        seats = EventSeats.open(
            event,
            email=email,
            offerings=list(offerings),
            reservations=programme.reservations if programme else None,
        )
        seats.admit(registration)
        seats.claim(registration, list(offerings))
        seats.write()
    return registration


def status_of(registration, offering):
    return SessionChoice.objects.get(registration=registration, offering=offering).status


def offering_with(event, capacity):
    """The event's first offering with `capacity` seats, the event itself unlimited."""
    event.capacity = None
    event.save()
    offering = offerings_by_round(event)[0][0]
    offering.capacity = capacity
    offering.save()
    return offering


@pytest.fixture
def event(db):
    return build_programme(sessions=3, rounds=2, capacity=2)


# Capacity ---------------------------------------------------------------------------


def test_the_event_confirms_up_to_its_capacity_and_queues_the_rest(event):
    first, second, third = (register(event, f"p{n}@example.nl") for n in range(3))

    assert [r.status for r in (first, second, third)] == [
        Status.CONFIRMED,
        Status.CONFIRMED,
        Status.WAITING,
    ]
    assert Registration.objects.waiting_position(third) == 1


def test_an_offering_confirms_up_to_its_capacity_and_queues_the_rest(event):
    offering = offering_with(event, 1)

    holder = register(event, "holder@example.nl", [offering])
    late = register(event, "late@example.nl", [offering])

    assert status_of(holder, offering) == Status.CONFIRMED
    assert status_of(late, offering) == Status.WAITING
    assert late.status == Status.CONFIRMED  # the event itself had room


def test_someone_waiting_for_the_event_waits_for_their_sessions_too(event):
    offering = offerings_by_round(event)[0][0]
    register(event, "a@example.nl")
    register(event, "b@example.nl")

    waiting = register(event, "c@example.nl", [offering])

    assert waiting.status == Status.WAITING
    assert status_of(waiting, offering) == Status.WAITING


def test_capacities_are_read_under_the_lock_not_from_a_kept_programme(event):
    """A programme kept by an app server may hold an old capacity: it must not count."""
    event.capacity = None
    event.save()
    rounds = list(event.rounds.prefetch_related("offerings"))
    programme = Programme.of(event, rounds)
    offering = offerings_by_round(event)[0][0]
    kept = programme.offerings[offering.pk]
    assert kept.capacity == 12
    offering.capacity = 1  # the room turned out smaller, after the programme was kept
    offering.save()

    register(event, "first@example.nl", [kept], programme=programme)
    second = register(event, "second@example.nl", [kept], programme=programme)

    assert status_of(second, offering) == Status.WAITING
    assert offering.choices.confirmed().count() == 1


# Choices ----------------------------------------------------------------------------


def test_one_session_per_round(event):
    first_round, _second_round = offerings_by_round(event)
    with pytest.raises(ValidationError) as refused:
        validated_offerings(event, [first_round[0].pk, first_round[1].pk])
    assert refused.value.code == "two_in_round"


def test_not_the_same_session_twice(event):
    first_round, second_round = offerings_by_round(event)
    same_session = [first_round[0].pk, second_round[0].pk]
    assert first_round[0].session_id == second_round[0].session_id
    with pytest.raises(ValidationError) as refused:
        validated_offerings(event, same_session)
    assert refused.value.code == "same_session_twice"


def test_only_the_events_own_offerings_and_each_once(event):
    other = build_programme(sessions=1, rounds=1)
    own = offerings_by_round(event)[0][0]
    foreign = offerings_by_round(other)[0][0]
    for ids in ([foreign.pk], [own.pk, own.pk], [999_999]):
        with pytest.raises(ValidationError) as refused:
            validated_offerings(event, ids)
        assert refused.value.code == "invalid_choice"
    assert validated_offerings(event, [own.pk, None]) == [own]


@pytest.mark.parametrize(
    ("first", "second"),
    [("excursion", "table"), ("excursion", "late"), ("table", "late")],
    ids=["spanned round", "overlapping times of a span", "overlapping rounds"],
)
def test_never_two_sessions_at_the_same_time(first, second):
    event, offerings = build_span_programme()
    chosen = [offerings[first].pk, offerings[second].pk]
    with pytest.raises(ValidationError) as refused:
        validated_offerings(event, chosen)
    assert refused.value.code == "overlapping_times"
    with pytest.raises(ValidationError):
        validated_offerings(event, chosen, known={o.pk: o for o in offerings.values()})


def test_sessions_one_after_the_other_are_fine():
    event, offerings = build_span_programme()
    for names in (["workshop", "table"], ["workshop", "late"], ["excursion"]):
        chosen = [offerings[name] for name in names]
        assert validated_offerings(event, [o.pk for o in chosen]) == sorted(
            chosen, key=lambda o: o.pk
        )


def test_a_claim_at_the_same_time_as_a_held_session_is_refused_under_the_lock():
    event, offerings = build_span_programme()
    registration = register(event, "p@example.nl", [offerings["table"]])

    with pytest.raises(ValidationError) as refused, transaction.atomic():
        seats = EventSeats.open(event)
        seats.claim(registration, [offerings["late"]])
        seats.write()

    assert refused.value.code == "overlapping_times"
    assert [c.offering for c in registration.choices.all()] == [offerings["table"]]
    with transaction.atomic():  # what does not overlap may be added
        seats = EventSeats.open(event)
        seats.claim(registration, [offerings["workshop"]])
        seats.write()
    assert registration.choices.count() == 2


def test_claims_in_one_transaction_see_each_other():
    event, offerings = build_span_programme()
    with pytest.raises(ValidationError), transaction.atomic():
        registration = new_registration(event, "p@example.nl")
        seats = EventSeats.open(
            event, email="p@example.nl", offerings=[offerings["table"], offerings["excursion"]]
        )
        seats.admit(registration)
        seats.claim(registration, [offerings["table"]])
        seats.claim(registration, [offerings["excursion"]])
    assert Registration.objects.count() == 0


# Reservations -------------------------------------------------------------------------


def reserve(event, offering, *, role, share, released_at):
    return SeatReservation.objects.create(
        event=event, offering=offering, role=role, share=share, released_at=released_at
    )


def test_reserved_seats_are_kept_for_their_group_until_released(event):
    offering = offering_with(event, 2)
    later = timezone.now() + datetime.timedelta(days=7)
    reserve(event, offering, role="resident", share=50, released_at=later)

    civil_servant = register(event, "cs1@example.nl", [offering], role="civil_servant")
    second_civil_servant = register(event, "cs2@example.nl", [offering], role="civil_servant")
    resident = register(event, "res@example.nl", [offering], role="resident")

    assert status_of(civil_servant, offering) == Status.CONFIRMED
    assert status_of(second_civil_servant, offering) == Status.WAITING  # the seat is kept
    assert status_of(resident, offering) == Status.CONFIRMED


def test_released_seats_go_to_those_waiting_before_a_newcomer(event):
    offering = offering_with(event, 2)
    reservation = reserve(
        event,
        offering,
        role="resident",
        share=50,
        released_at=timezone.now() + datetime.timedelta(days=7),
    )
    register(event, "cs1@example.nl", [offering], role="civil_servant")
    waiting = register(event, "cs2@example.nl", [offering], role="civil_servant")
    reservation.released_at = timezone.now() - datetime.timedelta(minutes=1)
    reservation.save()

    newcomer = register(event, "cs3@example.nl", [offering], role="civil_servant")

    assert status_of(waiting, offering) == Status.CONFIRMED
    assert status_of(newcomer, offering) == Status.WAITING


# Waiting lists and promotion ------------------------------------------------------


def test_a_freed_seat_goes_to_the_first_waiting_in_arrival_order(event):
    register(event, "a@example.nl")
    leaving = register(event, "b@example.nl")
    first_waiting = register(event, "c@example.nl")
    second_waiting = register(event, "d@example.nl")
    assert Registration.objects.waiting_position(second_waiting) == 2

    with transaction.atomic():
        seats = EventSeats.open(event)
        seats.cancel(Registration.objects.get(pk=leaving.pk))
        promoted = seats.promote()

    assert promoted == [first_waiting]
    assert seats.promoted == [first_waiting]
    second_waiting.refresh_from_db()
    assert Registration.objects.waiting_position(second_waiting) == 1


def test_a_released_choice_promotes_the_next_for_that_offering_only(event):
    offering = offering_with(event, 1)
    other = offerings_by_round(event)[0][1]
    holder = register(event, "holder@example.nl", [offering])
    next_in_line = register(event, "next@example.nl", [offering])

    with transaction.atomic():
        seats = EventSeats.open(event)
        seats.release(list(holder.choices.all()))
        promoted = seats.promote()

    assert promoted == [next_in_line]
    assert status_of(next_in_line, offering) == Status.CONFIRMED
    assert not other.choices.exists()


def test_moving_up_ignores_capacity_and_only_moves_someone_waiting(event):
    register(event, "a@example.nl")
    register(event, "b@example.nl")
    waiting = register(event, "c@example.nl")

    with transaction.atomic():
        seats = EventSeats.open(event)
        assert seats.move_up(Registration.objects.get(pk=waiting.pk)) is True
        assert seats.move_up(Registration.objects.get(pk=waiting.pk)) is False

    assert event.registrations.confirmed().count() == 3  # over capacity, as chosen


def test_the_address_already_registered_is_found_under_the_lock(event):
    known = register(event, "known@example.nl")
    with transaction.atomic():
        assert EventSeats.open(event, email="known@example.nl").existing == known
        assert EventSeats.open(event, email="new@example.nl").existing is None
