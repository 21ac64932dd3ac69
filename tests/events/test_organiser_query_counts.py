"""Tripwires: each organiser page issues as many queries for a big programme as for a small one.

Every page bench/organiser_pages.py times, for a programme of 3 sessions and one of 12 (each
in two rounds, with speakers, people registered, a seat reservation and a moderator), as a
superuser: the number of queries must not grow with the number of sessions.
"""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registrations import services
from tests.factories import SessionRoleFactory, build_programme, offerings_by_round, reserve_seats

pytestmark = pytest.mark.django_db


def programme_with_people(sessions):
    event = build_programme(sessions=sessions, rounds=2, capacity=200, event_speakers=sessions)
    first_round, second_round = offerings_by_round(event)
    later = second_round[1:] + second_round[:1]  # another session in the second round
    for number, (first, second) in enumerate(zip(first_round, later, strict=True)):
        for person in range(2):  # two people per session, in both rounds
            services.register_attendee(
                event,
                person=services.Person(
                    name=f"Deelnemer {number}-{person}",
                    email=f"deelnemer{number}-{person}@example.nl",
                    role="resident",
                ),
                offering_ids=[first.pk, second.pk],
            )
        SessionRoleFactory(session=first.session)  # a third speaker
    reserve_seats(first_round[0])
    return event


def organiser_pages(event):
    """(name, path) of the organiser pages of `event`, as the benchmark has them."""
    session = event.sessions.order_by("order", "pk").first()
    offering = event.offerings.filter(session=session).order_by("pk").first()
    round_ = event.rounds.order_by("starts_at", "pk").first()
    event_admin = "admin:events_event_"
    registrations = reverse("admin:registrations_registration_changelist")
    return {
        "event list": reverse(f"{event_admin}changelist"),
        "event change": reverse(f"{event_admin}change", args=[event.pk]),
        "programme editor": reverse(f"{event_admin}programme", args=[event.pk]),
        "programme editor, one card open": (
            reverse(f"{event_admin}programme", args=[event.pk]) + f"?bewerk={session.pk}"
        ),
        "programme import": reverse(f"{event_admin}programme_import", args=[event.pk]),
        "session import": reverse(f"{event_admin}session_import", args=[event.pk]),
        "copy": reverse(f"{event_admin}copy", args=[event.pk]),
        "session list": reverse("admin:events_session_changelist")
        + f"?event__id__exact={event.pk}",
        "session change": reverse("admin:events_session_change", args=[session.pk]),
        "session cancel": reverse("admin:events_session_cancel", args=[session.pk]),
        "offering list": reverse("admin:events_sessionoffering_changelist")
        + f"?event__id__exact={event.pk}",
        "offering change": reverse("admin:events_sessionoffering_change", args=[offering.pk]),
        "offering cancel": reverse("admin:events_sessionoffering_cancel", args=[offering.pk]),
        "round change": reverse("admin:events_round_change", args=[round_.pk]),
        "registration list": f"{registrations}?event__id__exact={event.pk}",
        "registration list, one session": (
            f"{registrations}?event__id__exact={event.pk}&offering={offering.pk}"
        ),
        "overview": reverse("registrations:event_overview", args=[event.pk]),
        "attendee list": reverse("registrations:event_attendees", args=[event.pk]),
        "check-in": reverse("registrations:event_checkin", args=[event.pk]),
        "export csv": reverse("registrations:event_export", args=[event.pk, "csv"]),
        "export xlsx": reverse("registrations:event_export", args=[event.pk, "xlsx"]),
        "registrations csv": reverse("registrations:event_registrations_csv", args=[event.pk]),
        "session attendee list": reverse("registrations:offering_attendees", args=[offering.pk]),
        "session check-in": reverse("registrations:offering_checkin", args=[offering.pk]),
        "cue card": reverse("registrations:offering_cue_card", args=[offering.pk]),
        "session export": reverse("registrations:offering_export", args=[offering.pk, "xlsx"]),
    }


def queries_per_page(client, event):
    counts = {}
    for name, path in organiser_pages(event).items():
        with CaptureQueriesContext(connection) as context:
            response = client.get(path)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = len(context.captured_queries)
    return counts


@pytest.fixture
def organiser_client(client):
    client.force_login(User.objects.create_superuser("organisator", "o@example.nl", "x"))
    return client


def test_organiser_pages_cost_as_many_queries_for_12_sessions_as_for_3(organiser_client):
    small = programme_with_people(3)
    big = programme_with_people(12)
    assert big.offerings.count() == 24
    queries_per_page(organiser_client, small)  # the first request loads what is kept

    small_counts = queries_per_page(organiser_client, small)
    big_counts = queries_per_page(organiser_client, big)

    grown = {
        name: (small_counts[name], big_counts[name])
        for name in small_counts
        if big_counts[name] > small_counts[name]
    }
    assert grown == {}


def test_event_change_page_queries_are_few(organiser_client, django_assert_max_num_queries):
    """Each inline's choices are read once, not once per row (223 queries on the seed
    Dag van de Buurt before; 38 while sessions and offerings were tables here too)."""
    event = programme_with_people(12)
    url = reverse("admin:events_event_change", args=[event.pk])
    organiser_client.get(url)

    with django_assert_max_num_queries(20):
        organiser_client.get(url)
