"""Seats kept for a group are shown as such, so that nobody outside the group is told
there are free seats and then put on the waiting list (issue 17)."""

import datetime
import re
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from registrations import seat_slots, services
from registrations.models import SeatReservation
from tests.factories import build_programme, offerings_by_round, person
from tests.test_page_cache import get_form, get_page, seats_shown

RELEASE = datetime.datetime(2030, 3, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def page_cache(settings):
    settings.PAGE_CACHE_SECONDS = 60


@pytest.fixture
def reserved(transactional_db):
    """An open event whose first session (10 seats) keeps 40 % for residents until 1 March."""
    event = build_programme(sessions=2, rounds=1, capacity=100)
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 10
    offering.save()
    SeatReservation.objects.create(
        event=event, offering=offering, role="resident", share=40, released_at=RELEASE
    )
    return event, offering


def register(offering, number, role):
    services.register_attendee(
        offering.event, person=person(number, role), offering_ids=[offering.pk]
    )


def seats_on(html):
    return re.findall(r'<span class="seats seats--(\w+)">([^<]*)<', html)


def test_free_seats_say_how_many_are_kept_for_whom(client, page_cache, reserved):
    event, offering = reserved

    _response, page = get_page(client, event)
    session_page = client.get(offering.session.get_absolute_url()).content.decode()

    text = "nog 10 plekken vrij, waarvan 4 gereserveerd voor bewoners tot 1 maart"
    assert ("open", text) in seats_on(page)
    assert ("open", text) in seats_on(session_page)


def test_seats_left_only_for_the_group_say_so_everywhere_on_kept_pages(
    client, page_cache, reserved
):
    event, offering = reserved
    get_page(client, event)
    get_form(client, event)
    for number in range(6):
        register(offering, number, "civil_servant")

    response, page = get_page(client, event)
    form_response, form = get_form(client, event)
    session_page = client.get(offering.session.get_absolute_url()).content.decode()

    assert response["X-Page-Cache"] == form_response["X-Page-Cache"] == "hit"
    reserved_text = "nog 4 plekken vrij, gereserveerd voor bewoners tot 1 maart"
    assert ("reserved", reserved_text) in seats_on(page)
    assert ("reserved", reserved_text) in seats_on(session_page)
    assert f"{reserved_text}; anderen komen op de wachtlijst" in seats_shown(form)

    register(offering, 50, "resident")  # a member takes a kept seat: exact per response

    _response, page = get_page(client, event)
    assert ("reserved", "nog 3 plekken vrij, gereserveerd voor bewoners tot 1 maart") in (
        seats_on(page)
    )


def test_once_released_the_kept_page_shows_the_seats_as_free_to_all(
    client, page_cache, reserved, monkeypatch
):
    event, offering = reserved
    for number in range(6):
        register(offering, number, "civil_servant")
    get_page(client, event)

    # Past the release date, the page still kept: the slot decides per response.
    later = SimpleNamespace(
        now=lambda: RELEASE + datetime.timedelta(minutes=1), localtime=timezone.localtime
    )
    monkeypatch.setattr(seat_slots, "timezone", later)
    response, page = get_page(client, event)

    assert response["X-Page-Cache"] == "hit"
    assert ("open", "nog 4 plekken vrij") in seats_on(page)


def test_event_seats_kept_for_a_group_show_on_the_event_page_and_the_form(
    client, page_cache, transactional_db
):
    event = build_programme(sessions=1, rounds=1, capacity=5)
    SeatReservation.objects.create(event=event, role="resident", share=40, released_at=RELEASE)
    for number in range(3):
        services.register_attendee(event, person=person(number, "politics"))

    _response, page = get_page(client, event)
    _response, form = get_form(client, event)

    assert "<p>nog 2 plekken vrij, gereserveerd voor bewoners tot 1 maart</p>" in page
    assert "De plekken die over zijn, zijn gereserveerd voor bewoners tot 1 maart." in form


def test_english_pages_name_the_group_in_english(client, page_cache, reserved):
    event, _offering = reserved

    client.cookies.clear()
    page = client.get(event.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "10 seats left, 4 of them reserved for residents until 1 March" in page


def test_a_kept_page_with_reservations_still_costs_one_query(
    client, page_cache, reserved, django_assert_num_queries
):
    event, offering = reserved
    SeatReservation.objects.create(
        event=event, offering=offering, role="civil_servant", share=20, released_at=RELEASE
    )
    get_page(client, event)
    get_form(client, event)
    client.cookies.clear()

    with django_assert_num_queries(1):  # the seats of every slot, per role
        assert client.get(event.get_absolute_url())["X-Page-Cache"] == "hit"
    with django_assert_num_queries(1):
        url = reverse("registrations:create", args=[event.slug])
        assert client.get(url)["X-Page-Cache"] == "hit"


def test_the_organisers_overview_shows_event_wide_reservations(client, organiser, db):
    event = build_programme(sessions=1, rounds=1, capacity=10)
    SeatReservation.objects.create(event=event, role="resident", share=30, released_at=RELEASE)
    services.register_attendee(event, person=person(1, "resident"))
    client.force_login(organiser)

    response = client.get(reverse("registrations:event_overview", args=[event.pk]))

    [item] = response.context["event_reservations"]
    assert (item["seats"], item["held"]) == (3, 1)
    assert "1 van 3 plekken gereserveerd voor bewoner bezet" in response.content.decode()
