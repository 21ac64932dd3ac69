"""registrations.seat_store: new rows as Model.save() and bulk_create() would write them."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from events.models import Event
from events.page_scopes import event_page
from registrations import seat_store
from registrations.models import QueuedEmail, Registration, SessionChoice
from sitewide import pagecache
from tests.factories import build_programme, offerings_by_round

pytestmark = pytest.mark.django_db


def stored(instance, *, skip=()):
    """The row as the database has it, field by field."""
    fields = [f.attname for f in type(instance)._meta.concrete_fields if f.attname not in skip]
    return type(instance).objects.filter(pk=instance.pk).values(*fields).get()


def new_registration(event, email):
    return Registration(
        event=event,
        email=email,
        name="Anna de Vries",
        role="resident",
        organisation="Buurtvereniging",
        question="Hoe werkt een buurtbudget?",
        consented_at=timezone.now(),
    )


def with_reserved_key(registration):
    """`registration` with the key that registering takes for it (PostgreSQL only)."""
    registration.pk = seat_store.address_and_seats(registration.event_id, registration.email, [])[4]
    return registration


def test_a_row_is_stored_as_save_stores_it():
    event = build_programme(sessions=1, rounds=1, capacity=10)
    saved = new_registration(event, "saved@example.nl")
    saved.save()
    before = timezone.now()

    [inserted] = seat_store.insert_rows([new_registration(event, "inserted@example.nl")])

    assert inserted.pk is not None and inserted.pk != saved.pk
    assert inserted._state.adding is False
    assert inserted._state.db == "default"
    row = stored(inserted)
    # auto_now_add and auto_now are filled in at the insert, as save() does.
    assert row["created_at"] >= before and row["updated_at"] >= before
    assert row["token"] == inserted.token and len(row["token"]) >= 43
    assert row.pop("email") == "inserted@example.nl"
    expected = stored(saved)
    assert expected.pop("email") == "saved@example.nl"
    for varying in ("id", "token", "created_at", "updated_at", "consented_at"):
        row.pop(varying), expected.pop(varying)
    assert row == expected  # every other column, defaults included (status, language)


def test_several_rows_get_their_own_primary_keys_in_order():
    event = build_programme(sessions=3, rounds=3, capacity=10)
    registration = new_registration(event, "anna@example.nl")
    registration.save()
    # One per round, each another session.
    offerings = [offerings[index] for index, offerings in enumerate(offerings_by_round(event))]
    assert len({offering.session_id for offering in offerings}) == 3
    choices = [
        SessionChoice(
            registration=registration,
            offering=offering,
            round_id=offering.round_id,
            session_id=offering.session_id,
            status="confirmed" if index else "waiting",
        )
        for index, offering in enumerate(offerings)
    ]

    seat_store.insert_rows(choices)

    assert len({choice.pk for choice in choices}) == 3
    for choice, offering in zip(choices, offerings, strict=True):
        row = stored(choice)
        assert row["offering_id"] == offering.pk
        assert row["status"] == choice.status


def test_nothing_to_insert_is_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert seat_store.insert_rows([]) == []


def test_the_database_constraints_still_hold():
    event = build_programme(sessions=1, rounds=1, capacity=10)
    seat_store.insert_rows([new_registration(event, "anna@example.nl")])

    with pytest.raises(IntegrityError), transaction.atomic():
        seat_store.insert_rows([new_registration(event, "anna@example.nl")])
    with pytest.raises(IntegrityError), transaction.atomic():
        seat_store.insert_rows([new_registration(event, "Upper@Example.nl")])


def test_a_refused_row_among_several_fails_them_all_and_the_connection_goes_on():
    event = build_programme(sessions=1, rounds=1, capacity=10)
    seat_store.insert_rows([new_registration(event, "anna@example.nl")])
    again = with_reserved_key(new_registration(event, "anna@example.nl"))
    queued = QueuedEmail(registration_id=again.pk, kind="confirmation")
    groups = [[again], [queued]] if again.pk else [[again]]

    with pytest.raises(IntegrityError), transaction.atomic():
        seat_store.insert_groups(*groups, [new_registration(event, "bert@example.nl")])

    assert list(Registration.objects.values_list("email", flat=True)) == ["anna@example.nl"]
    assert not QueuedEmail.objects.exists()
    seat_store.insert_groups(
        [new_registration(event, "bert@example.nl")], [new_registration(event, "cor@example.nl")]
    )
    assert Registration.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_seat_rows_renew_no_kept_page(settings):
    """Seats are slots filled per response (registrations.seat_slots): writing them
    leaves every kept page of the event in place."""
    settings.PAGE_CACHE_SECONDS = 60
    event = build_programme(sessions=1, rounds=1, capacity=10)
    scopes = event_page(event.slug)
    before = pagecache.generations(scopes)
    with transaction.atomic():
        [registration] = seat_store.insert_rows([new_registration(event, "anna@example.nl")])
        seat_store.insert_rows([QueuedEmail(registration=registration, kind="confirmation")])

    assert pagecache.generations(scopes) == before


def test_rows_of_several_models_go_in_one_round_trip_on_postgresql(django_assert_num_queries):
    event = build_programme(sessions=1, rounds=1, capacity=10)
    [offering] = offerings_by_round(event)[0]
    registration = new_registration(event, "anna@example.nl")
    registration.question = "Doet 50% mee? 'Ja'; %s %(x)s \\ -- nee"  # sent as typed
    with_reserved_key(registration)
    on_postgresql = connection.vendor == "postgresql"
    assert (registration.pk is not None) == on_postgresql
    if not on_postgresql:
        seat_store.insert_rows([registration])  # the key comes with the insert there
    reserved = registration.pk
    choice = SessionChoice(
        registration=registration,
        offering=offering,
        round_id=offering.round_id,
        session_id=offering.session_id,
        status="confirmed",
    )
    queued = QueuedEmail(registration_id=registration.pk, kind="confirmation")
    groups = [[choice], [queued]]
    if on_postgresql:
        groups.insert(0, [registration])

    with django_assert_num_queries(1 if on_postgresql else 2):
        seat_store.insert_groups(*groups)

    assert registration.pk == reserved
    assert stored(registration)["email"] == "anna@example.nl"
    assert stored(registration)["question"] == registration.question
    assert stored(choice)["registration_id"] == reserved
    assert stored(queued)["registration_id"] == reserved
    # The sequence goes on after the reserved key: the next row gets another one.
    later = new_registration(event, "bert@example.nl")
    later.save()
    assert later.pk != reserved


def test_a_locked_row_reads_as_the_orm_reads_it(django_assert_num_queries):
    event = build_programme(
        sessions=1,
        rounds=1,
        capacity=40,
        registration_opens_at=timezone.now() - timezone.timedelta(days=1),
    )
    expected = Event.objects.get(pk=event.pk)

    with transaction.atomic(), django_assert_num_queries(1) as queries:
        locked = seat_store.lock_row(Event, event.pk)

    if connection.vendor == "postgresql":
        assert queries.captured_queries[0]["sql"].endswith("FOR UPDATE")
    assert isinstance(locked, Event) and locked._state.adding is False
    assert locked._state.db == "default"
    fields = [field.attname for field in Event._meta.concrete_fields]
    # Dates, times, booleans and decimals converted as the ORM converts them (SQLite).
    assert {name: getattr(locked, name) for name in fields} == {
        name: getattr(expected, name) for name in fields
    }
    assert locked.registration_opens_at.tzinfo is not None


def test_locking_a_row_that_is_gone_gives_none():
    event = build_programme(sessions=1, rounds=1)
    gone = event.pk
    event.delete()

    with transaction.atomic():
        assert seat_store.lock_row(Event, gone) is None


def prepared_statements():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def confirmed_by_orm(event):
    return {
        offering.pk: SessionChoice.objects.filter(offering=offering, status="confirmed").count()
        for offerings in offerings_by_round(event)
        for offering in offerings
    }


def book_two(event):
    from registrations import services

    first, second = offerings_by_round(event)
    for number, (one, two) in enumerate([(first[0], second[1]), (first[1], second[0])]):
        services.register_attendee(
            event,
            person=services.Person(
                name="Deelnemer", email=f"p{number}@example.nl", role="resident"
            ),
            offering_ids=[one.pk, two.pk],
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # a connection of its own
def test_the_seat_reads_are_prepared_once_per_connection_on_postgresql():
    event = build_programme(sessions=2, rounds=2, capacity=10)
    book_two(event)
    offering_pks = list(confirmed_by_orm(event))
    connection.close()  # a new connection: nothing prepared yet

    for _ in range(3):
        counts = seat_store.seats_taken(event.pk, offering_pks, by_role=False)
        with transaction.atomic():
            seat_store.lock_row(Event, event.pk)
            seat_store.address_and_seats(event.pk, "p0@example.nl", offering_pks)

    assert {pk: counts[pk][None] for pk in offering_pks} == confirmed_by_orm(event)
    assert counts[None][None] == 2
    statements = prepared_statements()
    assert len(statements) == 3  # the seats, the lock, the address and seats: once each
    assert any(statement.endswith("FOR UPDATE") for statement in statements)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_prepared_statements_the_seat_reads_are_plain_queries():
    """DJANGO_DB_PREPARED_STATEMENTS=off, for a connection pooler that cannot keep them."""
    event = build_programme(sessions=2, rounds=2, capacity=10)
    book_two(event)
    offering_pks = list(confirmed_by_orm(event))
    connection.close()
    connection.ensure_connection()
    connection.connection.prepare_threshold = None  # what the setting leaves it at
    try:
        counts = seat_store.seats_taken(event.pk, offering_pks, by_role=False)
        with transaction.atomic():
            seat_store.lock_row(Event, event.pk)
            address, *_rest = seat_store.address_and_seats(event.pk, "p1@example.nl", offering_pks)

        assert {pk: counts[pk][None] for pk in offering_pks} == confirmed_by_orm(event)
        assert address == Registration.objects.get(email="p1@example.nl").pk
        assert prepared_statements() == []
    finally:
        connection.close()
