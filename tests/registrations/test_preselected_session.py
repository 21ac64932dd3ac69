"""A session page's "Aanmelden voor deze sessie" opens the form with that session chosen
in its round; the form is still served from the page cache, each URL with its own."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from tests.factories import build_programme, offerings_by_round

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_cache(settings):
    settings.PAGE_CACHE_SECONDS = 60


def checked(html):
    """The values of the checked session radios and selected ranking options."""
    radios = re.findall(
        r'<input type="radio"[^>]*name="round_\d+" value="(\d+)"[^>]*\bchecked\b', html
    )
    options = re.findall(r'<option value="(\d+)" selected>', html)
    return [int(value) for value in radios + options if value != "0"]


def form(client, event, query=""):
    response = client.get(reverse("registrations:create", args=[event.slug]) + query)
    assert response.status_code == 200
    return response, response.content.decode()


def test_the_session_page_links_to_the_form_per_offering(client, event):
    first_round, second_round = offerings_by_round(event)
    session = first_round[0].session

    html = client.get(session.get_absolute_url()).content.decode()

    url = reverse("registrations:create", args=[event.slug])
    assert re.findall(rf'href="{url}\?sessie=(\d+)"', html) == [
        str(first_round[0].pk),
        str(second_round[0].pk),
    ]
    assert html.count("Aanmelden voor deze sessie") == 2
    # Each link names its round for screen readers.
    assert '<span class="visually-hidden">: Ronde 2</span>' in html


@pytest.mark.parametrize(
    "changes",
    [
        {"registration_enabled": False},
        {"registration_opens_at": timezone.now() + datetime.timedelta(days=1)},
        {"registration_closes_at": timezone.now() - datetime.timedelta(minutes=1)},
    ],
    ids=["no-registration", "not-yet-open", "closed"],
)
def test_the_session_page_has_no_link_while_registration_is_not_open(client, event, changes):
    Event.objects.filter(pk=event.pk).update(**changes)
    session = offerings_by_round(event)[0][0].session

    html = client.get(session.get_absolute_url()).content.decode()

    assert "Aanmelden voor deze sessie" not in html


def test_the_form_opens_with_the_session_chosen_in_its_round(client, event):
    offering = offerings_by_round(event)[1][2]

    _response, html = form(client, event, f"?sessie={offering.pk}")

    assert checked(html) == [offering.pk]


@pytest.mark.parametrize("value", ["abc", "999999", "", "-1"])
def test_an_unknown_session_opens_the_form_with_nothing_chosen(client, event, value):
    _response, html = form(client, event, f"?sessie={value}")

    assert checked(html) == []


def test_a_kept_form_carries_the_preselection_of_its_own_url_only(client, event, page_cache):
    first_round, second_round = offerings_by_round(event)
    one, other = first_round[0], second_round[1]

    first, first_html = form(client, event, f"?sessie={one.pk}")
    plain, plain_html = form(client, event)
    second, second_html = form(client, event, f"?sessie={other.pk}")
    again, again_html = form(client, event, f"?sessie={one.pk}")
    plain_again, plain_again_html = form(client, event)

    assert [r["X-Page-Cache"] for r in (first, plain, second, again, plain_again)] == [
        "miss",
        "miss",
        "miss",
        "hit",
        "hit",
    ]
    assert checked(first_html) == checked(again_html) == [one.pk]
    assert checked(second_html) == [other.pk]
    assert checked(plain_html) == checked(plain_again_html) == []


def test_a_preference_form_has_the_session_as_first_choice(client):
    event = build_programme(
        sessions=3,
        rounds=2,
        allocation_mode=Event.AllocationMode.PREFERENCE,
        preferences_close_at=timezone.now() + datetime.timedelta(days=5),
    )
    offering = offerings_by_round(event)[1][1]

    _response, html = form(client, event, f"?sessie={offering.pk}")

    assert checked(html) == [offering.pk]
    [first_choice] = re.findall(
        rf'<select name="round_{offering.round_id}_1".*?</select>', html, re.DOTALL
    )
    assert f'<option value="{offering.pk}" selected>' in first_choice


def test_a_post_is_decided_by_its_data_not_the_query_string(client, event):
    from tests.factories import registration_form_data

    first_round, _second_round = offerings_by_round(event)
    url = reverse("registrations:create", args=[event.slug])

    response = client.post(f"{url}?sessie={first_round[1].pk}", registration_form_data(event))

    assert response.status_code == 302
    registration = event.registrations.get()
    assert first_round[1].pk not in registration.choices.values_list("offering", flat=True)
