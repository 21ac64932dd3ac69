"""The lock holds under a rush: run on PostgreSQL with real concurrent transactions."""

import threading

import pytest
from django.db import close_old_connections, connection

from registrations import emails, services
from registrations.models import QueuedEmail, Registration, SessionChoice
from registrations.seats import first_clash
from tests.factories import build_programme, build_span_programme, reserve_seats, single_offering

# One rush at a time (pytest-xdist's group): each opens up to 60 connections.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("rush"),
]

CONTENDERS = 60
SEATS_LEFT = 10


def _rush(worker, count):
    """Start `count` threads together; return the exceptions they raised."""
    barrier = threading.Barrier(count)
    errors = []

    def run(number):
        try:
            barrier.wait(timeout=30)
            worker(number)
        except Exception as error:
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_rush_for_last_ten_seats_never_overbooks_and_queues_in_arrival_order():
    offering = single_offering(12)
    event = offering.event
    for number in range(2):  # two seats already taken: ten left
        services.register_attendee(
            event,
            person=services.Person(
                name=f"Vroeg {number}", email=f"vroeg{number}@example.nl", role="resident"
            ),
            offering_ids=[offering.pk],
        )

    def register(number):
        services.register_attendee(
            event,
            person=services.Person(
                name=f"Deelnemer {number}", email=f"deelnemer{number}@example.nl", role="resident"
            ),
            offering_ids=[offering.pk],
        )

    errors = _rush(register, CONTENDERS)

    assert errors == []
    rushed = SessionChoice.objects.filter(registration__email__startswith="deelnemer")
    assert rushed.count() == CONTENDERS
    assert rushed.filter(status="confirmed").count() == SEATS_LEFT
    assert offering.choices.confirmed().count() == offering.capacity
    # Arrival order is the order in which the lock was granted, which is the
    # order of the rows' timestamps: the first ten got seats, the rest queue.
    in_arrival_order = list(rushed.order_by("created_at", "pk"))
    assert [choice.status for choice in in_arrival_order] == ["confirmed"] * SEATS_LEFT + [
        "waiting"
    ] * (CONTENDERS - SEATS_LEFT)
    waiting = list(offering.choices.waiting())
    assert [SessionChoice.objects.waiting_position(choice) for choice in waiting] == list(
        range(1, CONTENDERS - SEATS_LEFT + 1)
    )
    assert Registration.objects.count() == CONTENDERS + 2


def test_rush_on_event_capacity_and_duplicate_clicks():
    event = build_programme(sessions=0, rounds=0, event_speakers=0, capacity=5)

    def register(number):
        # Every person double-clicks: two submissions each, at the same moment.
        person = number // 2
        services.register_attendee(
            event,
            person=services.Person(
                name=f"Deelnemer {person}", email=f"dubbel{person}@example.nl", role="resident"
            ),
        )

    errors = _rush(register, 40)

    assert errors == []
    assert Registration.objects.count() == 20
    assert Registration.objects.filter(status="confirmed").count() == 5
    assert Registration.objects.filter(status="waiting").count() == 15


def test_concurrent_cancellations_promote_each_waiting_person_once():
    offering = single_offering(10)
    event = offering.event
    outcomes = [
        services.register_attendee(
            event,
            person=services.Person(name=f"P {n}", email=f"p{n}@example.nl", role="resident"),
            offering_ids=[offering.pk],
        )
        for n in range(30)
    ]
    holders = [outcome.registration for outcome in outcomes[:10]]

    errors = _rush(lambda number: services.cancel_registration(holders[number]), 10)

    assert errors == []
    assert offering.choices.confirmed().count() == 10
    confirmed_emails = set(
        offering.choices.confirmed().values_list("registration__email", flat=True)
    )
    assert confirmed_emails == {f"p{n}@example.nl" for n in range(10, 20)}


def test_rush_respects_seats_reserved_for_residents():
    offering = single_offering(10)
    event = offering.event
    reserve_seats(offering)

    def register(number):
        role = "resident" if number % 3 == 0 else "civil_servant"
        services.register_attendee(
            event,
            person=services.Person(name=f"P {number}", email=f"r{number}@example.nl", role=role),
            offering_ids=[offering.pk],
        )

    errors = _rush(register, 60)

    assert errors == []
    confirmed = offering.choices.confirmed()
    assert confirmed.count() == 10
    assert confirmed.filter(registration__role="resident").count() >= 4
    assert confirmed.exclude(registration__role="resident").count() <= 6
    assert SessionChoice.objects.filter(offering=offering).count() == 60


def test_concurrent_outbox_workers_send_each_email_once(settings, mailoutbox):
    settings.EMAIL_DELIVERY = "queue"
    event = build_programme(sessions=1, rounds=1, speakers_per_session=0, event_speakers=0)
    for number in range(30):
        services.register_attendee(
            event,
            person=services.Person(
                name=f"Deelnemer {number}", email=f"d{number}@example.nl", role="resident"
            ),
        )
    sent = []

    def work(number):
        sent.append(emails.send_queued()[0])

    errors = _rush(work, 4)

    assert errors == []
    assert sum(sent) == 30
    assert sorted(message.to[0] for message in mailoutbox) == sorted(
        f"d{number}@example.nl" for number in range(30)
    )
    assert not QueuedEmail.objects.filter(sent_at=None).exists()


def test_simultaneous_repeat_registrations_queue_one_link(settings):
    settings.EMAIL_DELIVERY = "queue"
    event = build_programme(sessions=0, rounds=0, event_speakers=0)
    anna = services.Person(name="Anna", email="anna@example.nl", role="resident")
    services.register_attendee(event, person=anna)

    errors = _rush(lambda number: services.register_attendee(event, person=anna), 20)

    assert errors == []
    assert QueuedEmail.objects.filter(kind="link").count() == 1


def test_simultaneous_changes_never_leave_two_sessions_at_the_same_time():
    """Each change on its own is fine; kept together, they would overlap. Under the event's
    lock the later change sees the earlier one and replaces it."""
    event, offerings = build_span_programme(capacity=100)
    registration = services.register_attendee(
        event,
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
        offering_ids=[offerings["workshop"].pk],
    ).registration
    wanted = [
        [offerings["excursion"].pk],  # takes up Ronde 1 and 2
        [offerings["workshop"].pk, offerings["table"].pk],
        [offerings["workshop"].pk, offerings["late"].pk],
    ] * 4

    def change(number):
        services.change_choices(registration, offering_ids=wanted[number])

    errors = _rush(change, len(wanted))

    assert errors == []
    held = [
        choice.offering
        for choice in SessionChoice.objects.active()
        .filter(registration=registration)
        .select_related("offering__round", "offering__last_round")
    ]
    assert sorted(offering.pk for offering in held) in [sorted(ids) for ids in wanted]
    assert first_clash(event, held) is None


def test_simultaneous_registrations_of_one_person_with_overlapping_choices():
    """A double submission with different choices: one registration, its choices consistent."""
    event, offerings = build_span_programme(capacity=100)
    wanted = [[offerings["excursion"].pk], [offerings["table"].pk, offerings["workshop"].pk]] * 5

    def register(number):
        services.register_attendee(
            event,
            person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
            offering_ids=wanted[number],
        )

    errors = _rush(register, len(wanted))

    assert errors == []
    registration = Registration.objects.get()
    held = [
        choice.offering
        for choice in registration.choices.active().select_related(
            "offering__round", "offering__last_round"
        )
    ]
    assert sorted(offering.pk for offering in held) in [sorted(ids) for ids in wanted]
    assert first_clash(event, held) is None
