"""A past event says "Afgelopen" first, offers no registration and shows no seats; its
registration pages answer with a page that says so (200), never with a form."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from registrations.models import Registration
from tests.factories import (
    EventFactory,
    SeriesFactory,
    build_programme,
    offerings_by_round,
    registration_form_data,
)

pytestmark = pytest.mark.django_db

PAST_NOTICE = "Afgelopen</strong> Dit evenement heeft plaatsgevonden. Aanmelden kan niet meer."


def past(**kwargs):
    """An event that was held ten days ago, its registration left open by its organiser."""
    return build_programme(
        sessions=2,
        rounds=2,
        start_date=timezone.localdate() - datetime.timedelta(days=10),
        registration_closes_at=timezone.now() + datetime.timedelta(days=10),
        **kwargs,
    )


PREFERENCES = {
    "allocation_mode": Event.AllocationMode.PREFERENCE,
    "preferences_close_at": timezone.now() + datetime.timedelta(days=10),
}


@pytest.mark.parametrize("mode", [{}, PREFERENCES], ids=["first-come", "preferences"])
def test_a_past_event_page_says_so_first_without_a_button_or_seats(client, mode):
    event = past(**mode)

    html = client.get(event.get_absolute_url()).content.decode()

    assert PAST_NOTICE in html
    assert html.index(PAST_NOTICE) < html.index("<h1")
    assert reverse("registrations:create", args=[event.slug]) not in html
    assert "plekken vrij" not in html and "wachtlijst" not in html
    assert offerings_by_round(event)[0][0].session.title in html  # the programme stays


def test_an_event_until_yesterday_is_past_and_one_ending_today_is_not(client):
    yesterday = EventFactory(
        start_date=timezone.localdate() - datetime.timedelta(days=2),
        end_date=timezone.localdate() - datetime.timedelta(days=1),
    )
    today = EventFactory(
        start_date=timezone.localdate() - datetime.timedelta(days=1),
        end_date=timezone.localdate(),
    )

    assert "Afgelopen" in client.get(yesterday.get_absolute_url()).content.decode()
    assert "Afgelopen" not in client.get(today.get_absolute_url()).content.decode()


@pytest.mark.parametrize("mode", [{}, PREFERENCES], ids=["first-come", "preferences"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_past_events_registration_form_answers_with_a_page_not_a_form(client, mode, method):
    event = past(**mode)
    url = reverse("registrations:create", args=[event.slug])

    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, registration_form_data(event))

    html = response.content.decode()
    assert response.status_code == 200
    assert PAST_NOTICE in html
    assert 'name="email"' not in html and "<select" not in html
    assert '<meta name="robots" content="noindex">' in html
    assert event.get_absolute_url() in html
    assert Registration.objects.count() == 0


def test_a_series_whose_events_are_all_past_says_so(client):
    series = SeriesFactory()
    for _ in range(2):
        past(series=series)

    response = client.get(reverse("registrations:series", args=[series.slug]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Alle evenementen van deze reeks hebben plaatsgevonden." in html
    assert 'name="email"' not in html


def test_a_series_form_leaves_out_its_past_events(client):
    series = SeriesFactory()
    held = past(series=series, title="Al geweest")
    coming = build_programme(sessions=2, rounds=2, series=series, title="Nog te komen")

    html = client.get(reverse("registrations:series", args=[series.slug])).content.decode()

    assert f'name="event_{coming.pk}"' in html
    assert f'name="event_{held.pk}"' not in html
    assert "Alle evenementen" not in html


def test_a_past_events_session_page_shows_no_seats_and_no_registration(client):
    event = past()
    session = offerings_by_round(event)[0][0].session

    html = client.get(session.get_absolute_url()).content.decode()

    assert "Afgelopen" in html
    assert "plekken vrij" not in html
    assert "Aanmelden voor deze sessie" not in html
