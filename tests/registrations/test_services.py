import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from registrations import seats, services
from registrations.models import QueuedEmail, Registration, SessionChoice
from tests.factories import EventFactory, build_programme, offerings_by_round

pytestmark = pytest.mark.django_db


def statuses(registration):
    return sorted((choice.offering_id, choice.status) for choice in registration.choices.active())


def test_register_confirms_event_and_one_session_per_round(
    event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    first_round, second_round = offerings_by_round(event)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.register_attendee(
            event,
            person=person_factory(email="Anna@Example.NL"),
            offering_ids=[first_round[0].pk, second_round[1].pk],
        )

    registration = outcome.registration
    assert outcome.created is True
    assert registration.email == "anna@example.nl"
    assert registration.status == "confirmed"
    assert statuses(registration) == sorted(
        [(first_round[0].pk, "confirmed"), (second_round[1].pk, "confirmed")]
    )
    assert [message.to for message in mailoutbox] == [["anna@example.nl"]]


def test_mail_is_sent_only_after_commit(event, person_factory, mailoutbox):
    with transaction.atomic():
        services.register_attendee(event, person=person_factory())
        assert mailoutbox == []


def test_full_offering_puts_next_person_on_its_waiting_list(event, person_factory):
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 1
    offering.save()
    services.register_attendee(event, person=person_factory(), offering_ids=[offering.pk])

    outcome = services.register_attendee(event, person=person_factory(), offering_ids=[offering.pk])

    [choice] = outcome.registration.choices.all()
    assert outcome.registration.status == "confirmed"
    assert choice.status == "waiting"
    assert SessionChoice.objects.waiting_position(choice) == 1
    assert offering.choices.confirmed().count() == 1


def test_full_event_puts_registration_and_its_choices_on_waiting_list(event, person_factory):
    event.capacity = 1
    event.save()
    offering = offerings_by_round(event)[0][0]
    services.register_attendee(event, person=person_factory())

    outcome = services.register_attendee(event, person=person_factory(), offering_ids=[offering.pk])

    assert outcome.registration.status == "waiting"
    assert statuses(outcome.registration) == [(offering.pk, "waiting")]
    assert Registration.objects.waiting_position(outcome.registration) == 1


def test_second_registration_with_same_address_creates_nothing_and_mails_link(
    event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    first = services.register_attendee(event, person=person_factory(email="jan@example.nl"))

    with django_capture_on_commit_callbacks(execute=True):
        second = services.register_attendee(
            event, person=person_factory(email="JAN@example.nl", name="Iemand Anders")
        )

    assert second.created is False
    assert second.registration.pk == first.registration.pk
    assert Registration.objects.count() == 1
    assert Registration.objects.get().name == first.registration.name
    [message] = mailoutbox
    assert first.registration.get_absolute_url() in message.body


def queued_links(email):
    return QueuedEmail.objects.filter(kind="link", registration__email=email)


def test_repeated_registrations_queue_the_link_once_per_quarter_hour(event, person_factory):
    services.register_attendee(event, person=person_factory(email="jan@example.nl"))
    other_event = build_programme(sessions=1, rounds=1)
    services.register_attendee(other_event, person=person_factory(email="jan@example.nl"))

    repeats = [
        services.register_attendee(event, person=person_factory(email="JAN@example.nl"))
        for _ in range(5)
    ]
    # The link of the other event is mailed too: once per address and event.
    services.register_attendee(other_event, person=person_factory(email="jan@example.nl"))

    assert [outcome.created for outcome in repeats] == [False] * 5
    assert queued_links("jan@example.nl").count() == 2
    queued_links("jan@example.nl").update(
        created_at=timezone.now()
        - services.first_come.LINK_RESEND_INTERVAL
        - datetime.timedelta(seconds=1)
    )
    services.register_attendee(event, person=person_factory(email="jan@example.nl"))
    assert queued_links("jan@example.nl").count() == 3


def test_database_refuses_second_registration_for_same_address(event, person_factory):
    outcome = services.register_attendee(event, person=person_factory(email="a@example.nl"))

    with pytest.raises(IntegrityError), transaction.atomic():
        Registration.objects.create(
            event=event,
            name="x",
            email="a@example.nl",
            role="other",
            consented_at=outcome.registration.consented_at,
        )


def test_same_session_in_two_rounds_is_refused(event, person_factory):
    first_round, second_round = offerings_by_round(event)

    with pytest.raises(ValidationError) as excinfo:
        services.register_attendee(
            event, person=person_factory(), offering_ids=[first_round[0].pk, second_round[0].pk]
        )

    assert excinfo.value.code == "same_session_twice"
    assert Registration.objects.count() == 0


def test_two_sessions_in_one_round_are_refused(event, person_factory):
    first_round, _ = offerings_by_round(event)

    with pytest.raises(ValidationError) as excinfo:
        services.register_attendee(
            event, person=person_factory(), offering_ids=[first_round[0].pk, first_round[1].pk]
        )

    assert excinfo.value.code == "two_in_round"


def test_offering_of_another_event_is_refused(event, person_factory):
    foreign_event = build_programme(sessions=1, rounds=1)
    foreign_offering = foreign_event.offerings.get()

    with pytest.raises(ValidationError) as excinfo:
        services.register_attendee(
            event, person=person_factory(), offering_ids=[foreign_offering.pk]
        )

    assert excinfo.value.code == "invalid_choice"
    assert SessionChoice.objects.count() == 0


@pytest.mark.parametrize(
    ("opens", "closes", "published", "code"),
    [(1, 2, True, "not_yet_open"), (-2, -1, True, "closed"), (-1, 1, False, "not_published")],
)
def test_registration_only_in_window_of_published_event(
    person_factory, opens, closes, published, code
):
    now = timezone.now()
    event = EventFactory(
        registration_opens_at=now + datetime.timedelta(days=opens),
        registration_closes_at=now + datetime.timedelta(days=closes),
        is_published=published,
    )

    with pytest.raises(ValidationError) as excinfo:
        services.register_attendee(event, person=person_factory())

    assert excinfo.value.code == code


def test_cancel_frees_seat_and_promotes_first_waiting_with_mail(
    event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 1
    offering.save()
    holder = services.register_attendee(event, person=person_factory(), offering_ids=[offering.pk])
    first = services.register_attendee(
        event, person=person_factory(email="eerste@example.nl"), offering_ids=[offering.pk]
    )
    second = services.register_attendee(
        event, person=person_factory(email="tweede@example.nl"), offering_ids=[offering.pk]
    )

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.cancel_registration(holder.registration)

    assert outcome.registration.status == "cancelled"
    assert statuses(first.registration) == [(offering.pk, "confirmed")]
    assert statuses(second.registration) == [(offering.pk, "waiting")]
    assert SessionChoice.objects.waiting_position(second.registration.choices.get()) == 1
    assert sorted(message.to[0] for message in mailoutbox) == [
        "deelnemer0@example.nl",
        "eerste@example.nl",
    ]
    promotion = next(m for m in mailoutbox if m.to == ["eerste@example.nl"])
    assert "Er is een plek vrijgekomen" in promotion.subject


def test_cancel_twice_is_harmless(event, person_factory):
    outcome = services.register_attendee(event, person=person_factory())
    services.cancel_registration(outcome.registration)

    again = services.cancel_registration(outcome.registration)

    assert again.registration.status == "cancelled"


def test_register_again_after_cancel_reactivates_at_back_of_queue(event, person_factory):
    outcome = services.register_attendee(event, person=person_factory(email="terug@example.nl"))
    services.cancel_registration(outcome.registration)

    again = services.register_attendee(event, person=person_factory(email="terug@example.nl"))

    assert again.created is True
    assert again.registration.pk == outcome.registration.pk
    assert again.registration.status == "confirmed"
    assert again.registration.cancelled_at is None


def test_register_again_takes_the_new_role_for_the_seat(event, person_factory):
    """Someone who registers again in another role gets a seat as that role: here
    every event seat is kept for residents."""
    outcome = services.register_attendee(
        event, person=person_factory(email="terug@example.nl", role="civil_servant")
    )
    services.cancel_registration(outcome.registration)
    event.seat_reservations.create(
        role="resident", share=100, released_at=timezone.now() + datetime.timedelta(days=1)
    )

    again = services.register_attendee(
        event, person=person_factory(email="terug@example.nl", role="resident")
    )

    assert (again.registration.role, again.registration.status) == ("resident", "confirmed")


def test_change_choice_frees_old_seat_for_waiting_person(event, person_factory):
    first_round, _ = offerings_by_round(event)
    full, other = first_round[0], first_round[1]
    full.capacity = 1
    full.save()
    mover = services.register_attendee(event, person=person_factory(), offering_ids=[full.pk])
    waiting = services.register_attendee(event, person=person_factory(), offering_ids=[full.pk])

    outcome = services.change_choices(mover.registration, offering_ids=[other.pk])

    assert statuses(mover.registration) == [(other.pk, "confirmed")]
    assert statuses(waiting.registration) == [(full.pk, "confirmed")]
    assert [r.pk for r in outcome.promoted] == [waiting.registration.pk]


def test_change_keeps_unchanged_choice_and_its_queue_place(event, person_factory):
    first_round, second_round = offerings_by_round(event)
    full = first_round[0]
    full.capacity = 1
    full.save()
    services.register_attendee(event, person=person_factory(), offering_ids=[full.pk])
    early = services.register_attendee(event, person=person_factory(), offering_ids=[full.pk])
    services.register_attendee(event, person=person_factory(), offering_ids=[full.pk])
    choice_before = early.registration.choices.get()

    services.change_choices(early.registration, offering_ids=[full.pk, second_round[1].pk])

    choice_after = early.registration.choices.active().get(offering=full)
    assert choice_after.pk == choice_before.pk
    assert SessionChoice.objects.waiting_position(choice_after) == 1


def test_capacity_increase_promotes_in_arrival_order(event, person_factory):
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 0
    offering.save()
    waiting = [
        services.register_attendee(event, person=person_factory(), offering_ids=[offering.pk])
        for _ in range(3)
    ]
    offering.capacity = 2
    offering.save()

    promoted = services.fill_free_seats(event)

    assert [r.pk for r in promoted] == [w.registration.pk for w in waiting[:2]]
    assert [statuses(w.registration)[0][1] for w in waiting] == [
        "confirmed",
        "confirmed",
        "waiting",
    ]


def test_seats_taken_counts_confirmed_seats_per_holder_and_role(event, person_factory):
    first_round, second_round = offerings_by_round(event)
    full = first_round[0]
    full.capacity = 1
    full.save()
    for role in ["resident", "resident", "civil_servant"]:
        services.register_attendee(
            event, person=person_factory(role=role), offering_ids=[full.pk, second_round[1].pk]
        )
    services.register_attendee(event, person=person_factory(), offering_ids=[second_round[2].pk])

    everything = seats.seats_taken(event.pk)
    assert everything[None] == {"resident": 3, "civil_servant": 1}
    assert everything[full.pk] == {"resident": 1}  # the others wait
    assert everything[second_round[1].pk] == {"resident": 2, "civil_servant": 1}
    assert everything[second_round[2].pk] == {"resident": 1}

    only = seats.seats_taken(event.pk, [full.pk])
    assert set(only) == {None, full.pk}
    assert set(seats.seats_taken(event.pk, [])) == {None}

    # Totals only: the same seats, under the role None.
    totals = seats.seats_taken(event.pk, by_role=False)
    assert totals[None] == {None: 4}
    assert totals[full.pk] == {None: 1}
    assert totals[second_round[1].pk] == {None: 3}
    assert totals[second_round[2].pk] == {None: 1}
    assert totals[second_round[0].pk] == {}  # nobody chose it
    assert dict(seats.seats_taken(event.pk, [], by_role=False)) == {None: {None: 4}}


def test_a_kept_programme_spares_no_check_of_the_choices(event, person_factory):
    """Offerings the programme does not hold are looked up, and refused when they are
    another event's; a programme of another event is no way around that either."""
    other = build_programme(sessions=2, rounds=2, capacity=10)
    rounds = list(event.rounds.prefetch_related("offerings"))
    programme = seats.Programme.of(event, rounds)
    foreign = offerings_by_round(other)[0][0]

    with pytest.raises(ValidationError) as refused:
        services.register_attendee(
            event, person=person_factory(), offering_ids=[foreign.pk], programme=programme
        )
    assert refused.value.code == "invalid_choice"

    other_programme = seats.Programme.of(other, list(other.rounds.all()))
    with pytest.raises(ValidationError) as refused:
        services.register_attendee(
            event, person=person_factory(), offering_ids=[foreign.pk], programme=other_programme
        )
    assert refused.value.code == "invalid_choice"

    own = offerings_by_round(event)[0][0]
    outcome = services.register_attendee(
        event, person=person_factory(), offering_ids=[own.pk], programme=programme
    )
    assert statuses(outcome.registration) == [(own.pk, "confirmed")]


def test_registration_constraints_are_validated_unless_the_address_is_excluded(
    event, django_assert_num_queries
):
    # Registration.validate_constraints skips everything when `email` is excluded,
    # which is right only while every constraint of the model concerns the address.
    for constraint in Registration._meta.constraints:
        assert "email" in str(getattr(constraint, "condition", None)) or "email" in getattr(
            constraint, "fields", ()
        ), constraint.name
    registration = Registration(event=event, name="Anna", email="Anna@Example.NL", role="resident")

    with django_assert_num_queries(0):
        registration.validate_constraints(exclude={"email"})
    with pytest.raises(ValidationError) as raised:
        registration.validate_constraints()
    assert "registration_email_lower_case" in str(raised.value)


def test_registering_a_new_address_is_three_statements_on_postgresql(event, person_factory):
    """Every registration for an event waits for its lock: the lock, then the address,
    the seats and a new key in one read, then every new row in one write."""
    first_round, second_round = offerings_by_round(event)
    rounds = list(event.rounds.prefetch_related("offerings"))
    programme = seats.Programme.of(event, rounds)
    person = person_factory(email="anna@example.nl")

    with CaptureQueriesContext(connection) as captured:
        services.register_attendee(
            event,
            person=person,
            offering_ids=[first_round[0].pk, second_round[1].pk],
            programme=programme,
        )

    # The test's own transaction makes the service's a savepoint.
    statements = [
        query["sql"] for query in captured.captured_queries if "SAVEPOINT" not in query["sql"]
    ]
    assert statuses(Registration.objects.get()) == sorted(
        [(first_round[0].pk, "confirmed"), (second_round[1].pk, "confirmed")]
    )
    if connection.vendor != "postgresql":  # keys come with the inserts, one per table
        assert len(statements) == 6
        return
    lock, read, write = statements
    assert lock.endswith("FOR UPDATE")
    assert "nextval" in read and "email" in read
    assert write.count("INSERT INTO") == 4  # the registration, choices, history, e-mail
