"""The 403, 404, 500 and 503 pages and the CSRF failure: Dutch, and without the database."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views import defaults

from sitewide import views as site_views
from tests.factories import build_programme


def test_404_is_dutch_and_needs_no_database(logged_in_client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = logged_in_client.get("/bestaat/niet/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Pagina niet gevonden</h1>" in html
    assert 'class="language-switch"' in html  # still switchable to English


def test_403_is_dutch_and_needs_no_database(logged_in_client, django_assert_num_queries):
    request = RequestFactory().get("/lijsten/")
    request.session = logged_in_client.session

    with django_assert_num_queries(0), translation.override("nl"):
        response = defaults.permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert "<h1>Geen toegang</h1>" in response.content.decode()


@pytest.mark.django_db
def test_csrf_failure_is_a_dutch_403(django_assert_num_queries):

    event = build_programme(sessions=1, rounds=1)
    client = Client(enforce_csrf_checks=True)

    with django_assert_num_queries(0):
        response = client.post(reverse("registrations:create", args=[event.slug]), {})

    assert response.status_code == 403
    assert "<h1>Het formulier is verlopen</h1>" in response.content.decode()


def test_500_is_dutch_and_needs_no_database(django_assert_num_queries, db):
    request = RequestFactory().get("/")

    with django_assert_num_queries(0), translation.override("nl"):
        try:
            raise ValueError("a bug")
        except ValueError:
            response = site_views.server_error(request)

    assert response.status_code == 500
    assert "<h1>Er is iets misgegaan</h1>" in response.content.decode()


def test_database_error_outside_a_view_still_answers_503(django_assert_num_queries, db):
    request = RequestFactory().get("/")

    with django_assert_num_queries(0), translation.override("nl"):
        try:
            raise OperationalError("server closed the connection unexpectedly")
        except OperationalError:
            response = site_views.server_error(request)

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "<h1>Tijdelijk niet beschikbaar</h1>" in response.content.decode()
