"""Login attempts are limited per account name and per address (sitewide/login_throttle.py)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher

from sitewide.models import RateWindow

pytestmark = pytest.mark.django_db

LOGIN_PAGES = ["/account/login/", "/admin/login/"]
THROTTLED = "Te veel inlogpogingen. Probeer het over 15 minuten opnieuw."


class CountingHasher(MD5PasswordHasher):
    """The test suite's fast hasher, counting the passwords it hashes."""

    hashed = 0

    def encode(self, password, salt, *args, **kwargs):
        type(self).hashed += 1
        return super().encode(password, salt, *args, **kwargs)


@pytest.fixture(autouse=True)
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.test_logins.CountingHasher"]
    return CountingHasher


@pytest.fixture
def organiser(db):
    return get_user_model().objects.create_user(
        "organisator", password="juist-wachtwoord", is_staff=True
    )


@pytest.fixture
def three_per_account(settings):
    settings.LOGIN_RATE_LIMIT = "3/15m"


def log_in(client, url, username, password="fout", **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def errors(response):
    """The form's messages, as the page shows them (either login template)."""
    return re.findall(r'<(?:li|p class="errornote")>\s*([^<]+?)\s*</', response.content.decode())


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_wrong_passwords_are_refused_before_the_password_is_checked(
    client, url, organiser, three_per_account, counting_hasher
):
    tries = [log_in(client, url, "organisator").status_code for _ in range(3)]
    hashed = counting_hasher.hashed

    response = log_in(client, url, "organisator")

    assert tries == [200, 200, 200]
    assert response.status_code == 429
    assert errors(response) == [THROTTLED]
    assert 0 < int(response["Retry-After"]) <= 900
    assert counting_hasher.hashed == hashed  # refused without the half second of CPU
    assert 'value="organisator"' in response.content.decode()  # what was typed stays


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_the_right_password_is_refused_too_while_throttled(
    client, url, organiser, three_per_account
):
    for _ in range(3):
        log_in(client, url, "organisator")

    response = log_in(client, url, "organisator", "juist-wachtwoord")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_an_unknown_name_is_throttled_exactly_like_a_known_one(
    client, url, organiser, three_per_account
):
    answers = {}
    for username in ["organisator", "niemand"]:
        responses = [log_in(client, url, username) for _ in range(4)]
        answers[username] = [
            (response.status_code, errors(response), "Retry-After" in response)
            for response in responses
        ]

    assert answers["organisator"] == answers["niemand"]
    assert answers["niemand"][-1] == (429, [THROTTLED], True)


def test_the_name_counts_in_any_case_and_other_accounts_are_not_throttled(
    client, organiser, three_per_account
):
    for username in ["organisator", "Organisator", " ORGANISATOR"]:
        log_in(client, "/account/login/", username)

    assert log_in(client, "/admin/login/", "organisator ").status_code == 429
    assert log_in(client, "/account/login/", "iemand-anders").status_code == 200


def test_successful_logins_do_not_count(client, organiser, three_per_account):
    for _ in range(5):
        assert (
            log_in(client, "/account/login/", "organisator", "juist-wachtwoord").status_code == 302
        )
        client.logout()
    for _ in range(3):
        log_in(client, "/account/login/", "organisator")

    assert log_in(client, "/account/login/", "organisator").status_code == 429


def test_an_address_trying_many_names_is_throttled(client, settings):
    settings.LOGIN_ADDRESS_RATE_LIMIT = "3/15m"
    for number in range(3):
        log_in(client, "/account/login/", f"naam{number}")

    response = log_in(client, "/admin/login/", "nog-een-naam")
    elsewhere = log_in(client, "/admin/login/", "nog-een-naam", REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 429
    assert errors(response) == [THROTTLED]
    assert elsewhere.status_code == 200


def test_the_counts_hold_no_names_or_addresses(client, three_per_account, settings):
    settings.LOGIN_ADDRESS_RATE_LIMIT = "3/15m"
    log_in(client, "/account/login/", "organisator")

    keys = " ".join(RateWindow.objects.values_list("key", flat=True))

    assert keys.count("login-") == 2
    assert "organisator" not in keys and "127.0.0.1" not in keys
