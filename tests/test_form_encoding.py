"""Form posts in another encoding than UTF-8: a Dutch 400 page and one log line, never a 500.

The clients check CSRF tokens as a browser's requests are checked: Django's test client
skips that check by default, and the check is where such a post first failed.
"""

import logging
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from registrations.models import Registration
from tests.factories import registration_form_data

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def _urls(event):
    return {
        "registration form": reverse("registrations:create", args=[event.slug]),
        "login": reverse("login"),
        "language switch": reverse("set_language"),
    }


def _browser(event):
    """A client that checks CSRF as for a browser, with the cookie of a first visit."""
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("registrations:create", args=[event.slug]))
    return client


def _post(client, url, data, content_type):
    # generic() sends the body as given; post() would encode it in the named charset.
    return client.generic("POST", url, urlencode(data), content_type=content_type)


@pytest.mark.parametrize("page", ["registration form", "login", "language switch"])
@pytest.mark.parametrize("charset", ["utf-16", "latin-1", "no-such-codec"])
def test_a_form_post_in_another_charset_gets_the_400_page_and_one_log_line(
    event, caplog, page, charset
):
    client = _browser(event)
    caplog.clear()

    with caplog.at_level(logging.INFO):
        response = _post(
            client,
            _urls(event)[page],
            registration_form_data(event),
            f"{FORM}; charset={charset}",
        )

    assert response.status_code == 400
    assert "<h1>Ongeldig verzoek</h1>" in response.content.decode()
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.exc_info is None
    assert "\n" not in record.getMessage()
    assert f"charset {charset}" in record.getMessage()
    assert not Registration.objects.exists()


def test_utf_8_under_another_name_registers(event):
    """Django takes only "utf-8" itself; "UTF8" and ASCII, its subset, are UTF-8 too."""
    for number, charset in enumerate(["UTF8", "utf_8", "us-ascii", "UTF-8"]):
        data = registration_form_data(event, email=f"anna{number}@example.nl")

        response = _post(
            Client(), _urls(event)["registration form"], data, f"{FORM}; charset={charset}"
        )

        assert response.status_code == 302, charset
    assert Registration.objects.count() == 4


def test_a_multipart_post_in_another_charset_gets_the_400_page(event):
    response = Client().post(
        _urls(event)["registration form"],
        b"",
        content_type="multipart/form-data; boundary=x; charset=utf-16",
    )

    assert response.status_code == 400
    assert "<h1>Ongeldig verzoek</h1>" in response.content.decode()


@pytest.fixture
def without_form_encoding_middleware(settings):
    settings.MIDDLEWARE = [
        name for name in settings.MIDDLEWARE if name != "sitewide.middleware.FormEncodingMiddleware"
    ]


def test_the_error_pages_answer_a_body_django_refuses(event, without_form_encoding_middleware):
    """Without the middleware, the CSRF check refuses the body; the 400 page then reads
    nothing of it (Django's own handlers read it again, and failed again, up to a 500)."""
    response = _post(
        _browser(event),
        _urls(event)["registration form"],
        {"name": "Anna"},
        f"{FORM}; charset=utf-16",
    )

    assert response.status_code == 400
    assert "<h1>Ongeldig verzoek</h1>" in response.content.decode()
