"""Bots: the honeypot field and the per-address rate limit on the registration forms."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from registrations.models import Registration
from sitewide.models import RateWindow
from sitewide.ratelimit import parse_rate
from tests.factories import EventFactory, SeriesFactory, build_programme, registration_form_data

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------ honeypot


def test_honeypot_is_hidden_from_people_and_assistive_technology(client, event):
    response = client.get(reverse("registrations:create", args=[event.slug]))

    html = response.content.decode()
    [wrapper] = re.findall(r"<div[^>]*>\s*<div[^>]*id=\"div_id_website\"", html)
    assert 'class="visually-hidden"' in wrapper
    assert 'aria-hidden="true"' in wrapper
    [field] = re.findall(r"<input[^>]*name=\"website\"[^>]*>", html)
    assert 'tabindex="-1"' in field
    assert 'autocomplete="off"' in field
    assert 'id="id_website"' in field
    [label] = re.findall(r"<label\s+for=\"id_website\"[^>]*>([^<]*)</label>", html)
    assert label.strip() == "Laat dit veld leeg"


def test_filled_honeypot_looks_like_success_but_stores_and_mails_nothing(
    client, event, django_capture_on_commit_callbacks, mailoutbox
):
    url = reverse("registrations:create", args=[event.slug])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, registration_form_data(event, website="https://spam.example"))

    assert response.status_code == 302
    assert response["Location"] == reverse("registrations:done", args=[event.slug])
    assert Registration.objects.count() == 0
    assert mailoutbox == []
    done = client.get(response["Location"]).content.decode()
    assert "anna@example.nl" in done


def test_honeypot_response_matches_a_real_registration(client, event):
    url = reverse("registrations:create", args=[event.slug])
    real = client.post(url, registration_form_data(event, email="echt@example.nl"))

    bot = client.post(url, registration_form_data(event, email="bot@example.nl", website="x"))

    assert (bot.status_code, bot["Location"]) == (real.status_code, real["Location"])
    assert list(Registration.objects.values_list("email", flat=True)) == ["echt@example.nl"]


def test_invalid_form_with_honeypot_is_answered_as_any_invalid_form(client, event):
    url = reverse("registrations:create", args=[event.slug])

    response = client.post(url, registration_form_data(event, name="", website="x"))

    assert response.status_code == 400
    assert "Vul je naam in." in response.content.decode()
    assert Registration.objects.count() == 0


def test_series_form_has_the_honeypot_too(client):
    series = SeriesFactory()
    first = build_programme(sessions=2, rounds=1, series=series)
    offering = first.offerings.first()
    url = reverse("registrations:series", args=[series.slug])
    assert 'name="website"' in client.get(url).content.decode()

    response = client.post(
        url,
        {
            "name": "Sam",
            "email": "sam@example.nl",
            "role": "professional",
            "consent": "on",
            f"event_{first.pk}": "on",
            f"round_{offering.round_id}": str(offering.pk),
            "website": "buy-now",
        },
    )

    assert response.status_code == 302
    assert Registration.objects.count() == 0


# ------------------------------------------------------------------------------ rate limit


@pytest.fixture
def limit_three(settings):
    settings.REGISTRATION_RATE_LIMIT = "3/10m"


def test_fourth_attempt_from_one_address_gets_429_in_dutch(client, event, limit_three):
    url = reverse("registrations:create", args=[event.slug])
    statuses = [
        client.post(url, registration_form_data(event, email=f"p{n}@example.nl")).status_code
        for n in range(3)
    ]

    response = client.post(url, registration_form_data(event, email="p4@example.nl"))

    assert statuses == [302, 302, 302]
    assert response.status_code == 429
    html = response.content.decode()
    assert "<h1>Te veel pogingen</h1>" in html
    assert "Probeer het over 10 minuten opnieuw." in html
    assert 0 < int(response["Retry-After"]) <= 600
    assert Registration.objects.count() == 3


def test_invalid_attempts_count_too(client, event, limit_three):
    url = reverse("registrations:create", args=[event.slug])
    for _ in range(3):
        client.post(url, registration_form_data(event, email="geen-adres"))

    assert client.post(url, registration_form_data(event)).status_code == 429


def test_page_views_do_not_count(client, event, limit_three):
    url = reverse("registrations:create", args=[event.slug])
    for _ in range(5):
        client.get(url)

    assert client.post(url, registration_form_data(event)).status_code == 302


def test_other_addresses_are_not_limited(client, event, limit_three):
    url = reverse("registrations:create", args=[event.slug])
    for n in range(4):
        client.post(url, registration_form_data(event, email=f"p{n}@example.nl"))

    response = client.post(
        url, registration_form_data(event, email="buur@example.nl"), REMOTE_ADDR="10.0.0.7"
    )

    assert response.status_code == 302


def test_series_and_event_forms_share_the_limit(client, event, limit_three):
    series = SeriesFactory()
    EventFactory(series=series)
    for n in range(3):
        client.post(
            reverse("registrations:create", args=[event.slug]),
            registration_form_data(event, email=f"p{n}@example.nl"),
        )

    response = client.post(reverse("registrations:series", args=[series.slug]), {})

    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, event, settings):
    settings.REGISTRATION_RATE_LIMIT = "1/1h"
    settings.TRUSTED_PROXY_COUNT = 1
    url = reverse("registrations:create", args=[event.slug])

    first = client.post(url, registration_form_data(event), HTTP_X_FORWARDED_FOR="198.51.100.1")
    # A client cannot escape by writing its own X-Forwarded-For: the proxy appends.
    forged = client.post(
        url, registration_form_data(event), HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1"
    )
    neighbour = client.post(
        url,
        registration_form_data(event, email="b@example.nl"),
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )

    assert [first.status_code, forged.status_code, neighbour.status_code] == [302, 429, 302]


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client, event, settings):
    settings.REGISTRATION_RATE_LIMIT = "1/1h"
    url = reverse("registrations:create", args=[event.slug])
    client.post(url, registration_form_data(event), HTTP_X_FORWARDED_FOR="198.51.100.1")

    response = client.post(
        url,
        registration_form_data(event, email="b@example.nl"),
        HTTP_X_FORWARDED_FOR="198.51.100.2",
    )

    assert response.status_code == 429


def test_limit_can_be_switched_off(client, event, settings):
    settings.REGISTRATION_RATE_LIMIT = "off"
    url = reverse("registrations:create", args=[event.slug])

    statuses = {
        client.post(url, registration_form_data(event, email=f"p{n}@example.nl")).status_code
        for n in range(25)
    }

    assert statuses == {302}


def test_the_counts_hold_no_addresses(client, event, limit_three):
    client.post(reverse("registrations:create", args=[event.slug]), registration_form_data(event))

    keys = list(RateWindow.objects.values_list("key", flat=True))

    assert len(keys) == 1 and "127.0.0.1" not in keys[0]


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [
        ("20/10m", (20, 600)),
        ("5/h", (5, 3600)),
        (" 100 / 30s ", (100, 30)),
        ("3/1d", (3, 86400)),
        ("off", None),
        ("", None),
    ],
)
def test_parse_rate(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["20", "20/10x", "many/1m", "20/-1m"])
def test_parse_rate_refuses_nonsense(rate):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)
