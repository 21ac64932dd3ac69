"""Tripwires: each public page issues the same number of queries whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events.models import Event
from tests.factories import (
    EventFactory,
    EventRoleFactory,
    SeriesFactory,
    SessionRoleFactory,
    build_programme,
    build_span_programme,
    registration_form_data,
)

pytestmark = pytest.mark.django_db


def count_queries(client, url):
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_event_page_queries_on_seed_equal_ten_times_bigger_event(client, seed_fixtures):
    seed = Event.objects.get(slug="dag-van-de-buurt-2021")
    assert seed.offerings.count() == 26
    big = build_programme(sessions=130, rounds=2, speakers_per_session=2, event_speakers=90)
    assert big.offerings.count() == 260

    small = build_programme(sessions=13, rounds=2, speakers_per_session=2, event_speakers=9)

    seed_queries = count_queries(client, seed.get_absolute_url())
    small_queries = count_queries(client, small.get_absolute_url())
    big_queries = count_queries(client, big.get_absolute_url())

    # One for the seat reservations the seats name; the last: every seat left, filled in.
    assert small_queries == big_queries == 9
    assert seed_queries == 7  # past: no seats shown


@pytest.mark.parametrize("item_count", [1, 3])
def test_home_queries_are_constant(client, django_assert_num_queries, item_count):
    for _ in range(item_count):
        EventFactory(series=SeriesFactory(), capacity=50)  # open, with its seats filled in
        EventFactory(start_date="2020-01-01")

    with django_assert_num_queries(4):
        client.get(reverse("events:home"))


@pytest.mark.parametrize("item_count", [1, 3])
def test_series_page_queries_are_constant(client, django_assert_num_queries, item_count):
    series = SeriesFactory()
    for _ in range(item_count):
        EventFactory(series=series)
        series.organisers.add(EventRoleFactory().speaker.organisation)

    with django_assert_num_queries(3):
        client.get(series.get_absolute_url())


@pytest.mark.parametrize("item_count", [1, 3])
def test_session_page_queries_are_constant(client, django_assert_num_queries, item_count):
    event = build_programme(sessions=1, rounds=item_count, speakers_per_session=item_count)

    with django_assert_num_queries(7):  # one of them: the seat reservations
        client.get(event.sessions.get().get_absolute_url())


@pytest.mark.parametrize("item_count", [1, 3])
def test_speaker_page_queries_are_constant(client, django_assert_num_queries, item_count):
    speaker = EventRoleFactory().speaker
    for _ in range(item_count):
        EventRoleFactory(speaker=speaker)
        role = SessionRoleFactory(speaker=speaker)
        build_programme(sessions=0, rounds=0)
        role.session.offerings.create(
            event=role.session.event,
            round=role.session.event.rounds.create(title="Ronde 1", starts_at="14:00"),
        )

    with django_assert_num_queries(4):
        client.get(speaker.get_absolute_url())


@pytest.mark.parametrize("sessions", [3, 13])
def test_registration_form_and_post_queries_are_constant(
    client, settings, django_assert_num_queries, sessions
):
    """The busiest requests when registration opens. With the page cache on (in memory
    here, so only database queries count): the kept form costs one query (the seats), and
    a registration a fixed handful, whatever the size of the programme."""
    settings.PAGE_CACHE_SECONDS = 60
    event = build_programme(sessions=sessions, rounds=2, capacity=100)
    url = reverse("registrations:create", args=[event.slug])
    client.get(url)  # renders the form and keeps it, with the event and its rounds
    client.cookies.clear()

    with django_assert_num_queries(1):
        assert client.get(url)["X-Page-Cache"] == "hit"

    # In the registration's transaction: the event lock, the address and the seats in
    # one statement (with the new registration's key on PostgreSQL), and the inserts
    # (registration, choices, history, outbox): one round trip on PostgreSQL, four
    # elsewhere. The chosen offerings and the seat reservations come with the kept
    # programme. Savepoints: the test runs in a transaction.
    data = registration_form_data(event)
    with django_assert_num_queries(5 if connection.vendor == "postgresql" else 8):
        response = client.post(url, data)
    assert response.status_code == 302


def test_a_session_across_rounds_costs_no_extra_queries(client, settings):
    """The event page, the form and a registration for the excursion: as many queries as
    for a programme without sessions across rounds (above)."""
    settings.PAGE_CACHE_SECONDS = 60
    event, offerings = build_span_programme(capacity=100)
    url = reverse("registrations:create", args=[event.slug])

    assert count_queries(client, event.get_absolute_url()) == 9
    client.get(url)
    client.cookies.clear()
    assert count_queries(client, url) == 1
    first, _second, third = event.rounds.order_by("starts_at")
    data = {
        "name": "Anna de Vries",
        "email": "anna@example.nl",
        "role": "resident",
        "consent": "on",
        f"round_{first.pk}": str(offerings["excursion"].pk),  # fills Ronde 2 too
        f"round_{third.pk}": "0",
    }
    with CaptureQueriesContext(connection) as context:
        response = client.post(url, data)
    assert response.status_code == 302
    assert len(context.captured_queries) == (5 if connection.vendor == "postgresql" else 8)


def test_the_overview_costs_no_queries_of_its_own(client):
    """The overview is rendered from the programme's prefetched offerings: a programme ten
    times bigger costs the same queries."""

    def count(event):
        with CaptureQueriesContext(connection) as context:
            response = client.get(event.get_absolute_url())
        content = response.content.decode()
        assert content.count("overview__item") == event.offerings.count()
        return len(context.captured_queries)

    small = build_programme(sessions=3, rounds=2, speakers_per_session=2, capacity=50)
    big = build_programme(sessions=30, rounds=2, speakers_per_session=3, capacity=50)
    assert count(small) == count(big)
