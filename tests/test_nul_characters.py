"""A NUL character, which PostgreSQL cannot store or compare, from anyone: never a 500.

Python's cookie parser turns ``\\000`` in a quoted cookie value into a real NUL, so anyone
can send one in the session cookie; forms get one typed or pasted. These tests run on
SQLite and PostgreSQL (where a NUL reaching a query is a DataError).
"""

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from registrations.models import Registration
from sitewide.middleware import NulCharacterMiddleware
from tests.factories import registration_form_data

pytestmark = pytest.mark.django_db

BROKEN_SESSION = 'sessionid="abcdefgh\\000ijklmnop"'


def _client_with(cookie):
    client = Client(raise_request_exception=False)
    client.cookies.load(cookie)
    return client


def test_a_cookie_with_a_nul_is_dropped_and_the_others_are_kept():
    seen = {}

    def view(request):
        seen.update(request.COOKIES)
        return HttpResponse()

    request = RequestFactory().get(
        "/", HTTP_COOKIE=f"{BROKEN_SESSION}; csrftoken=abc; django_language=nl; x\x00=1"
    )

    response = NulCharacterMiddleware(view)(request)

    assert response.status_code == 200
    assert seen == {"csrftoken": "abc", "django_language": "nl"}


def test_a_visitor_with_a_nul_in_the_session_cookie_gets_every_page(event):
    client = _client_with(BROKEN_SESSION)
    assert client.cookies["sessionid"].value == "abcdefgh\x00ijklmnop"  # as a browser sends it

    for url in [
        reverse("events:home"),
        event.get_absolute_url(),
        reverse("registrations:create", args=[event.slug]),
        reverse("login"),
    ]:
        assert client.get(url).status_code == 200, url


def test_a_visitor_with_a_nul_in_the_session_cookie_can_register(event):
    client = _client_with(BROKEN_SESSION)

    response = client.post(
        reverse("registrations:create", args=[event.slug]), registration_form_data(event)
    )

    assert response.status_code == 302
    assert Registration.objects.filter(email="anna@example.nl").exists()


def test_a_nul_typed_in_the_registration_form_is_dropped_or_a_field_error(event):
    client = Client(raise_request_exception=False)
    url = reverse("registrations:create", args=[event.slug])

    refused = client.post(url, registration_form_data(event, email="anna\x00@example.nl"))
    stored = client.post(
        url, registration_form_data(event, name="Anna\x00 de Vries", organisation="\x00Gemeente")
    )

    assert refused.status_code == 400
    assert "Null-tekens zijn niet toegestaan." in refused.content.decode()
    assert stored.status_code == 302
    registration = Registration.objects.get()
    assert (registration.name, registration.organisation) == ("Anna de Vries", "Gemeente")


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_a_nul_in_a_login_name_is_a_field_error(url_name, settings):
    settings.LOGIN_RATE_LIMIT = settings.LOGIN_ADDRESS_RATE_LIMIT = "off"
    User.objects.create_user("anna", password="geheim", is_staff=True)
    client = Client(raise_request_exception=False)

    response = client.post(reverse(url_name), {"username": "an\x00na", "password": "geheim"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_nul_in_the_password_reset_address_is_a_field_error():
    client = Client(raise_request_exception=False)

    response = client.post(reverse("password_reset"), {"email": "anna\x00@example.nl"})

    assert response.status_code == 200
    assert "Null-tekens zijn niet toegestaan." in response.content.decode()


def test_a_nul_in_the_admin_search_is_a_400():
    admin = User.objects.create_superuser("beheer", "beheer@example.nl", "geheim")
    client = Client(raise_request_exception=False)
    client.force_login(admin)

    response = client.get(reverse("admin:registrations_registration_changelist"), {"q": "a\x00"})

    assert response.status_code == 400
