"""Seats kept for a group (e.g. 40 % for residents) until a release date."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations import services
from registrations.models import Registration, SeatReservation, SessionChoice
from tests.factories import build_programme, person, reserve_seats, single_offering

pytestmark = pytest.mark.django_db


@pytest.fixture
def offering(db):
    offering = single_offering(10)
    reserve_seats(offering, days=3)
    return offering


def register(offering, number, role):
    outcome = services.register_attendee(
        offering.event, person=person(number, role), offering_ids=[offering.pk]
    )
    return outcome.registration.choices.get().status


def test_reserved_seats_go_only_to_the_group_until_release(offering):
    others = [register(offering, n, "civil_servant") for n in range(8)]
    residents = [register(offering, 100 + n, "resident") for n in range(5)]

    assert others == ["confirmed"] * 6 + ["waiting"] * 2
    assert residents == ["confirmed"] * 4 + ["waiting"]


def test_group_members_may_also_take_unreserved_seats(offering):
    residents = [register(offering, n, "resident") for n in range(10)]

    assert residents == ["confirmed"] * 10


def test_reservation_share_rounds_up():
    assert SeatReservation(share=40).reserved_seats(12) == 5
    assert SeatReservation(share=40).reserved_seats(10) == 4
    assert SeatReservation(share=1).reserved_seats(10) == 1
    assert SeatReservation(share=40).reserved_seats(None) == 0


def test_after_release_everyone_may_take_the_seats(offering):
    offering.seat_reservations.update(released_at=timezone.now() - datetime.timedelta(minutes=1))

    others = [register(offering, n, "professional") for n in range(10)]

    assert others == ["confirmed"] * 10


def test_release_command_moves_waiting_people_up(
    offering, django_capture_on_commit_callbacks, mailoutbox
):
    from django.core.management import call_command

    [register(offering, n, "civil_servant") for n in range(8)]
    offering.seat_reservations.update(released_at=timezone.now() - datetime.timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("release_reserved_seats", verbosity=0)

    assert offering.choices.confirmed().count() == 8
    assert sorted(m.to[0] for m in mailoutbox if "plek vrijgekomen" in m.subject) == [
        "p6@example.nl",
        "p7@example.nl",
    ]


def test_cancellation_promotes_next_eligible_person(offering):
    holders = [register(offering, n, "civil_servant") for n in range(6)]
    assert holders == ["confirmed"] * 6
    register(offering, 50, "civil_servant")  # waiting: the rest is reserved
    register(offering, 60, "resident")  # confirmed in a reserved seat
    first_holder = Registration.objects.get(email="p0@example.nl")

    services.cancel_registration(first_holder)

    assert SessionChoice.objects.get(registration__email="p50@example.nl").status == "confirmed"


def test_waiting_non_member_keeps_place_while_member_takes_reserved_seat(offering):
    [register(offering, n, "resident") for n in range(4)]
    [register(offering, 10 + n, "professional") for n in range(6)]
    waiting_professional = register(offering, 20, "professional")
    offering.capacity = 11
    offering.save()
    SeatReservation.objects.filter(offering=offering).update(share=50)  # 6 of 11 reserved

    promoted = services.fill_free_seats(offering.event)
    late_resident = register(offering, 30, "resident")

    assert waiting_professional == "waiting"
    assert promoted == []
    assert late_resident == "confirmed"
    assert SessionChoice.objects.get(registration__email="p20@example.nl").status == "waiting"


def test_event_level_reservation_applies_to_event_seats():
    event = build_programme(sessions=0, rounds=0, event_speakers=0, capacity=5)
    SeatReservation.objects.create(
        event=event, role="resident", share=40,
        released_at=timezone.now() + datetime.timedelta(days=1),
    )  # fmt: skip

    statuses = [
        services.register_attendee(event, person=person(n, "politics")).registration.status
        for n in range(4)
    ]

    assert statuses == ["confirmed"] * 3 + ["waiting"]


def test_the_registration_form_counts_the_groups_seats(offering, client):
    """Through the form (with the programme kept by the view): seats the group already
    holds count towards its reservation, so the others may take the rest."""
    url = reverse("registrations:create", args=[offering.event.slug])

    def post(number, role):
        data = {
            "name": f"P{number}",
            "email": f"form{number}@example.nl",
            "role": role,
            f"round_{offering.round_id}": str(offering.pk),
            "consent": "on",
            "website": "",
        }
        assert client.post(url, data).status_code == 302

    for number in range(4):
        post(number, "resident")
    for number in range(100, 108):
        post(number, "civil_servant")

    statuses = SessionChoice.objects.filter(
        offering=offering, registration__role="civil_servant"
    ).order_by("registration__created_at", "pk")
    assert list(statuses.values_list("status", flat=True)) == ["confirmed"] * 6 + ["waiting"] * 2


def test_released_reserved_seat_goes_to_the_waiting_before_a_newcomer(one_seat_event):
    event, offering = one_seat_event
    reservation = reserve_seats(offering, share=100)
    services.register_attendee(event, person=person(1, "civil_servant"), offering_ids=[offering.pk])
    reservation.released_at = timezone.now() - datetime.timedelta(minutes=1)
    reservation.save()

    late = services.register_attendee(
        event, person=person(2, "civil_servant"), offering_ids=[offering.pk]
    )

    assert offering.choices.confirmed().get().registration.email == "p1@example.nl"
    assert late.registration.choices.get().status == "waiting"
