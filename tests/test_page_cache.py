"""The page cache: anonymous programme pages and the registration form kept whole,
with the seats filled in per answer, renewed when a write that changes them commits."""

import contextlib
import datetime
import re
import threading
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, transaction
from django.http import HttpResponse
from django.middleware.csrf import _does_token_match
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from events.page_scopes import event_changed, event_page
from events.services import copy_as_draft
from registrations import services
from registrations import views as registration_views
from registrations.models import Registration, SeatReservation
from registrations.services import programme_changes
from sitewide import pagecache
from speakers.models import Speaker
from tests.events.test_admin import session_form_data
from tests.factories import (
    build_programme,
    offerings_by_round,
    registration_form_data,
)
from tests.test_cache import terminate_backend


@pytest.fixture
def page_cache(settings):
    settings.PAGE_CACHE_SECONDS = 60
    return settings


@pytest.fixture
def open_event(transactional_db):
    """Real commits (transactional_db): the cache is renewed when a write commits."""
    return build_programme(sessions=2, rounds=2, capacity=10)


def register_anna(event):
    """Anna takes the first session of round 1 and the second of round 2."""
    first_round, second_round = offerings_by_round(event)
    services.register_attendee(
        event,
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
        offering_ids=[first_round[0].pk, second_round[1].pk],
    )


def get_page(client, event):
    client.cookies.clear()  # a new anonymous visitor each time
    response = client.get(event.get_absolute_url())
    return response, response.content.decode()


def get_form(client, event, **headers):
    client.cookies.clear()  # a new anonymous visitor each time
    response = client.get(reverse("registrations:create", args=[event.slug]), **headers)
    return response, response.content.decode()


def seats_shown(html):
    return re.findall(r'class="choice__seats"><span class="seats seats--\w+">([^<]*)<', html)


def test_second_anonymous_view_comes_from_the_cache(client, page_cache, open_event):
    open_event.title = "Café-avond – wijkdemocratie"  # kept encoded: non-ASCII must survive
    open_event.save()
    first, first_html = get_page(client, open_event)

    second, html = get_page(client, open_event)

    assert (first["X-Page-Cache"], second["X-Page-Cache"]) == ("miss", "hit")
    assert "10 plekken vrij" in html
    assert second.content == first.content and "Café-avond – wijkdemocratie" in html


def test_a_page_kept_whole_is_answered_with_the_headers_it_was_rendered_with(
    client, page_cache, open_event
):
    miss, _html = get_page(client, open_event)

    hit, _html = get_page(client, open_event)

    assert (miss["X-Page-Cache"], hit["X-Page-Cache"]) == ("miss", "hit")
    # Answered before the session and locale middleware ran: they left no trace on it.
    assert hasattr(miss.wsgi_request, "session") and hasattr(miss.wsgi_request, "LANGUAGE_CODE")
    assert not hasattr(hit.wsgi_request, "session")
    assert not hasattr(hit.wsgi_request, "LANGUAGE_CODE")
    headers = {name for name in miss.headers if name != "X-Page-Cache"}
    assert headers == {name for name in hit.headers if name != "X-Page-Cache"}
    for name in ["Content-Type", "Content-Language", "Vary", "X-Frame-Options"]:
        assert hit[name] == miss[name], name
    assert "Accept-Language" in hit["Vary"]
    assert hit["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert int(hit["Content-Length"]) == len(hit.content)
    assert int(miss["Content-Length"]) == len(miss.content), "the length of the filled page"


def test_a_kept_page_speaks_each_visitors_language(client, page_cache, open_event):
    for language in ["nl", "en"]:
        client.get(open_event.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language)

    english = client.get(open_event.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")
    dutch = client.get(open_event.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="nl")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    chosen = client.get(open_event.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="nl")

    assert [english["X-Page-Cache"], dutch["X-Page-Cache"], chosen["X-Page-Cache"]] == ["hit"] * 3
    assert (english["Content-Language"], dutch["Content-Language"]) == ("en", "nl")
    assert 'lang="en"' in english.content.decode() and 'lang="nl"' in dutch.content.decode()
    assert chosen["Content-Language"] == "en", "the language cookie goes before the browser's"


def test_pages_not_kept_cost_no_early_look_in_the_cache(
    client, page_cache, open_event, monkeypatch
):
    get_page(client, open_event)  # a kept page: the early look is on for its path only
    reads = []
    read = pagecache.generations
    monkeypatch.setattr(pagecache, "generations", lambda *a: reads.append(a) or read(*a))

    response = client.get(reverse("login"))
    assert response.status_code == 200 and "X-Page-Cache" not in response
    assert reads == [], "the stamp is read for the paths of kept pages only"

    hit, _html = get_page(client, open_event)
    assert hit["X-Page-Cache"] == "hit" and len(reads) == 1


def test_cached_form_gets_each_visitor_their_own_csrf_token(client, page_cache, open_event):
    get_form(client, open_event)
    cookies = []
    for _ in range(2):
        response, html = get_form(client, open_event)
        tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        cookie = response.cookies[settings.CSRF_COOKIE_NAME].value
        assert response["X-Page-Cache"] == "hit"
        assert len(tokens) == 1  # the registration form's
        assert all(_does_token_match(token, cookie) for token in tokens)
        cookies.append(cookie)

    assert cookies[0] != cookies[1]


def test_a_cached_programme_page_sets_no_cookie(client, page_cache, open_event):
    get_page(client, open_event)

    response, html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "hit"
    assert "csrfmiddlewaretoken" not in html
    assert not response.cookies  # the language switch needs no CSRF token


def test_the_language_switch_works_without_a_csrf_token(open_event):
    strict = Client(enforce_csrf_checks=True)
    page = open_event.get_absolute_url()

    response = strict.post(reverse("set_language"), {"language": "en", "next": page})

    assert response.status_code == 302 and response["Location"] == page
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert 'lang="en"' in strict.get(page).content.decode()


def test_a_registration_keeps_the_page_and_its_next_view_shows_the_seats(
    client, page_cache, open_event
):
    get_page(client, open_event)

    register_anna(open_event)
    response, html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "hit"
    assert "9 plekken vrij" in html  # the event's seats
    # The chosen offerings' (12 seats each), in the overview and in the programme.
    assert html.count("11 plekken vrij") == 4
    assert html.count("12 plekken vrij") == 4
    assert "<!--slot" not in html


@contextlib.contextmanager
def _kept_connection():
    """Django's connection as a production app server keeps it between requests: its
    health check due before the next request's first query."""
    health_checks = connection.health_check_enabled
    connection.health_check_enabled = True
    connection.health_check_done = False
    try:
        yield connection
    finally:
        connection.health_check_enabled = health_checks
        connection.close()  # a test may have left it broken


@pytest.mark.postgres
def test_a_kept_pages_seat_read_is_the_connections_health_check(
    client, page_cache, open_event, monkeypatch
):
    get_page(client, open_event)
    register_anna(open_event)
    checks = []
    with _kept_connection() as kept:
        monkeypatch.setattr(kept, "is_usable", lambda: checks.append(1) or True)
        response, html = get_page(client, open_event)

        assert response["X-Page-Cache"] == "hit"
        assert "9 plekken vrij" in html
        assert checks == []  # no SELECT 1 before the seats
        assert kept.health_check_done is True


@pytest.mark.postgres
def test_a_kept_page_reads_its_seats_again_on_a_new_connection_after_a_restart(
    client, page_cache, open_event
):
    get_page(client, open_event)
    register_anna(open_event)
    with _kept_connection():
        old_pid = terminate_backend()  # as a PostgreSQL restart does

        response, html = get_page(client, open_event)

        assert response.status_code == 200 and response["X-Page-Cache"] == "hit"
        assert "9 plekken vrij" in html
        assert connection.connection.info.backend_pid != old_pid


def test_a_full_offering_reads_full_in_the_same_words_and_colour_everywhere(
    client, page_cache, open_event
):
    offering = offerings_by_round(open_event)[0][0]
    offering.capacity = 1
    offering.save()
    get_page(client, open_event)
    get_form(client, open_event)

    register_anna(open_event)
    _response, page = get_page(client, open_event)
    _response, form = get_form(client, open_event)
    session_page = client.get(offering.session.get_absolute_url()).content.decode()

    full = '<span class="seats seats--full">vol, '
    assert page.count(full) == 2  # the overview and the programme
    assert session_page.count(full) == form.count(full) == 1
    assert f"{full}wachtlijst</span>" in page
    assert f"{full}je komt op de wachtlijst</span>" in form


def test_writes_that_bypass_the_models_renew_the_event_when_asked(client, page_cache, open_event):
    get_page(client, open_event)

    type(open_event).objects.filter(pk=open_event.pk).update(capacity=7)
    assert get_page(client, open_event)[0]["X-Page-Cache"] == "hit"  # no signal: not seen
    event_changed(open_event.pk)
    response, html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "miss"
    assert "7 plekken vrij" in html


def test_changes_rolled_back_keep_the_cache(client, page_cache, open_event):
    get_page(client, open_event)

    with contextlib.suppress(RuntimeError), transaction.atomic():
        open_event.capacity = 7
        open_event.save()
        raise RuntimeError("roll back")
    response, _html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "hit"


def test_session_writes_keep_the_cache(client, page_cache, open_event):
    get_page(client, open_event)
    session = SessionStore()
    session["registration_summary"] = {"email": "anna@example.nl", "events": []}
    session.save()

    response, _html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "hit"


def test_visitors_with_a_session_are_never_served_from_the_cache(
    page_cache, open_event, logged_in_client
):
    logged_in_client.get(open_event.get_absolute_url())

    response = logged_in_client.get(open_event.get_absolute_url())

    assert "X-Page-Cache" not in response


def test_registration_form_is_kept_with_its_seats_filled_in_per_response(
    client, page_cache, open_event
):
    first, html = get_form(client, open_event)
    assert first["X-Page-Cache"] == "miss"
    assert seats_shown(html) == ["nog 12 plekken vrij"] * 4

    register_anna(open_event)
    second, html = get_form(client, open_event)

    assert second["X-Page-Cache"] == "hit"
    assert seats_shown(html) == [
        "nog 11 plekken vrij",
        "nog 12 plekken vrij",
        "nog 12 plekken vrij",
        "nog 11 plekken vrij",
    ]
    assert "<!--slot" not in html
    assert ">Aanmelden</button>" in html


def test_cached_form_turns_to_the_waiting_list_when_the_event_fills(client, page_cache, open_event):
    type(open_event).objects.filter(pk=open_event.pk).update(capacity=1)
    get_form(client, open_event)

    services.register_attendee(
        open_event, person=services.Person(name="Anna", email="anna@example.nl", role="resident")
    )
    response, html = get_form(client, open_event)

    assert response["X-Page-Cache"] == "hit"
    assert "Deze bijeenkomst is vol." in html
    assert ">Op de wachtlijst</button>" in html


def test_programme_changes_renew_the_cached_form(client, page_cache, open_event):
    get_form(client, open_event)
    session = offerings_by_round(open_event)[0][0].session

    session.title = "Een nieuwe titel"
    session.save()
    response, html = get_form(client, open_event)

    assert response["X-Page-Cache"] == "miss"
    assert "Een nieuwe titel" in html


def post_form(client, event, **data):
    url = reverse("registrations:create", args=[event.slug])
    response = client.post(url, registration_form_data(event, **data))
    assert response.status_code == 302
    return Registration.objects.get(event=event, email=data["email"])


def test_registration_keeps_to_a_capacity_set_after_the_programme_was_kept(
    client, page_cache, open_event
):
    """A POST takes the chosen offerings from the programme kept per app server; a
    change of the programme renews it, so the next registration keeps to it."""
    get_form(client, open_event)  # keeps the programme
    offering = offerings_by_round(open_event)[0][0]
    type(offering).objects.filter(pk=offering.pk).update(capacity=1)

    anna = post_form(client, open_event, email="anna@example.nl")
    bert = post_form(client, open_event, email="bert@example.nl")

    assert anna.choices.get(offering=offering).status == "confirmed"
    assert bert.choices.get(offering=offering).status == "waiting"


def test_registration_keeps_to_a_reservation_made_after_the_programme_was_kept(
    client, page_cache, open_event
):
    """The seat reservations also come with the kept programme, and renew it."""
    get_form(client, open_event)
    SeatReservation.objects.create(
        event=open_event,
        role="resident",
        share=100,
        released_at=timezone.now() + datetime.timedelta(days=1),
    )

    anna = post_form(client, open_event, email="anna@example.nl", role="civil_servant")

    assert anna.status == "waiting"  # every event seat is kept for residents


def test_kept_round_fields_speak_the_visitors_language(client, page_cache, open_event):
    """The round fields are kept per programme and language: the messages next to them
    follow each visitor's language."""
    url = reverse("registrations:create", args=[open_event.slug])
    [first_round, _second] = offerings_by_round(open_event)
    field = f"round_{first_round[0].round_id}"
    data = registration_form_data(open_event)
    del data[field]

    dutch = client.post(url, data, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    english = client.post(url, data, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    dutch_again = client.post(url, data, HTTP_ACCEPT_LANGUAGE="nl").content.decode()

    assert "Kies een sessie voor" in dutch and "Choose a session for" not in dutch
    assert "Choose a session for" in english and "Kies een sessie voor" not in english
    assert "Kies een sessie voor" in dutch_again


def test_seats_on_the_cached_form_speak_the_visitors_language(client, page_cache, open_event):
    url = reverse("registrations:create", args=[open_event.slug])

    dutch = client.get(url, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    dutch_again = client.get(url, HTTP_ACCEPT_LANGUAGE="nl")

    assert seats_shown(dutch) == ["nog 12 plekken vrij"] * 4
    assert seats_shown(english) == ["12 seats left"] * 4
    assert dutch_again["X-Page-Cache"] == "hit"
    assert seats_shown(dutch_again.content.decode()) == ["nog 12 plekken vrij"] * 4


def test_cached_form_is_left_when_registration_closes(client, page_cache, open_event, monkeypatch):
    closes = timezone.now() + datetime.timedelta(minutes=10)
    type(open_event).objects.filter(pk=open_event.pk).update(registration_closes_at=closes)
    assert get_form(client, open_event)[0]["X-Page-Cache"] == "miss"
    assert get_form(client, open_event)[0]["X-Page-Cache"] == "hit"

    later = closes + datetime.timedelta(seconds=1)
    monkeypatch.setattr("sitewide.pagecache.time.time", lambda: later.timestamp())
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    response, html = get_form(client, open_event)

    assert response.status_code == 403
    assert "X-Page-Cache" not in response


def test_form_with_errors_is_never_kept(client, page_cache, open_event):
    url = reverse("registrations:create", args=[open_event.slug])
    response = client.post(url, {"name": "Anna"})
    assert response.status_code == 400
    assert "X-Page-Cache" not in response
    assert seats_shown(response.content.decode()) == ["nog 12 plekken vrij"] * 4

    assert get_form(client, open_event)[0]["X-Page-Cache"] == "miss"


def test_visitors_with_a_session_get_the_form_rendered(page_cache, open_event, logged_in_client):
    url = reverse("registrations:create", args=[open_event.slug])
    logged_in_client.get(url)

    response = logged_in_client.get(url)

    assert "X-Page-Cache" not in response
    assert seats_shown(response.content.decode()) == ["nog 12 plekken vrij"] * 4


def test_page_cache_is_off_unless_configured(client, open_event):
    get_page(client, open_event)

    response, _html = get_page(client, open_event)

    assert settings.PAGE_CACHE_SECONDS == 0
    assert "X-Page-Cache" not in response


@pytest.fixture
def db_page_cache(page_cache, open_event):
    """The page cache with its generations in the database cache, as in production."""
    with override_settings(CACHES={"default": {"BACKEND": "sitewide.cache.DatabaseCache"}}):
        yield


def generations(event):
    return pagecache.generations(event_page(event.slug))


def test_a_registration_keeps_pages_kept_with_the_database_cache(client, db_page_cache, open_event):
    get_page(client, open_event)
    assert get_page(client, open_event)[0]["X-Page-Cache"] == "hit"
    before = generations(open_event)

    register_anna(open_event)
    response, html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "hit"
    assert "9 plekken vrij" in html and "11 plekken vrij" in html
    assert generations(open_event) == before


@pytest.fixture
def other_event(transactional_db):
    return build_programme(sessions=1, rounds=1, capacity=10)


def kept_pages(client, *events):
    """Render and keep each event's page, session pages, form, the home page."""
    urls = []
    for event in events:
        urls += [event.get_absolute_url(), reverse("registrations:create", args=[event.slug])]
        urls += [session.get_absolute_url() for session in event.sessions.all()]
    for url in urls:
        client.cookies.clear()
        client.get(url)
    return urls


def cache_states(client, urls):
    states = []
    for url in urls:
        client.cookies.clear()
        states.append(client.get(url)["X-Page-Cache"])
    return states


def change_a_round(event):
    round_ = event.rounds.first()
    round_.title = "Ronde met een nieuwe naam"
    round_.save()


def change_a_session(event):
    session = event.sessions.first()
    session.summary = "Een nieuwe korte tekst."
    session.save()


def change_an_offering(event):
    offering = event.offerings.first()
    offering.location = "Zaal 3"
    offering.save()


def change_the_event(event):
    event.summary = "Een nieuwe samenvatting."
    event.save()


def add_a_block(event):
    event.programme_blocks.create(title="Koffie", starts_at="10:00")


def add_a_leader(event):
    """A speaker who is on the site already: a new one would renew every page."""
    session = event.sessions.first()
    session.roles.create(speaker=Speaker.objects.exclude(session_roles__session=session).first())


def reserve_seats(event):
    SeatReservation.objects.create(
        event=event, role="resident", share=50, released_at=timezone.now() + datetime.timedelta(1)
    )


def cut_seats_with_people_booked(event):
    """Through the consequences page's service: Anna's session gets one seat fewer than
    the people in it, who keep their places (the organiser's decision)."""
    register_anna(event)
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 0
    programme_changes.change_programme(event, programme_changes.Decisions(), offerings=[offering])


def cancel_a_booked_session(event):
    register_anna(event)
    programme_changes.cancel_offerings(
        event, [offerings_by_round(event)[0][0]], programme_changes.Decisions()
    )


@pytest.mark.parametrize(
    "change",
    [
        change_a_round,
        change_a_session,
        change_an_offering,
        change_the_event,
        add_a_block,
        add_a_leader,
        reserve_seats,
        cut_seats_with_people_booked,
        cancel_a_booked_session,
    ],
)
def test_a_programme_change_renews_its_event_only(
    client, db_page_cache, open_event, other_event, change
):
    mine = kept_pages(client, open_event)
    others = kept_pages(client, other_event)

    change(open_event)

    assert set(cache_states(client, mine)) == {"miss"}
    assert set(cache_states(client, others)) == {"hit"}


def test_an_admin_save_renews_its_event_only(client, db_page_cache, open_event, other_event):
    mine = kept_pages(client, open_event)
    others = kept_pages(client, other_event)
    session = open_event.sessions.first()
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("beheer", "b@example.nl", "x"))

    response = admin.post(
        reverse("admin:events_session_change", args=[session.pk]),
        session_form_data(
            session, open_event.rounds.first(), title="Nieuwe titel", **{"offerings-TOTAL_FORMS": 0}
        ),
    )

    assert response.status_code == 302
    assert set(cache_states(client, mine)) == {"miss"}
    assert set(cache_states(client, others)) == {"hit"}
    assert "Nieuwe titel" in client.get(open_event.get_absolute_url()).content.decode()


def test_a_copy_and_a_fixture_renew_only_the_listing(client, db_page_cache, open_event):
    mine = kept_pages(client, open_event)
    client.get(reverse("events:home"))
    listing = pagecache.generations(["listing"])

    copy = copy_as_draft(open_event)

    assert set(cache_states(client, mine)) == {"hit"}  # the original is untouched
    assert pagecache.generations(["listing"]) != listing
    assert not copy.is_published


def test_a_speaker_change_renews_every_page_that_may_show_them(
    client, db_page_cache, open_event, other_event
):
    pages = kept_pages(client, open_event, other_event)
    speaker = open_event.sessions.first().roles.first().speaker

    speaker.name = "Nieuwe Naam"
    speaker.save()

    assert set(cache_states(client, pages)) == {"miss"}


def test_a_page_kept_expires_when_registration_opens(client, page_cache, open_event, monkeypatch):
    opens = timezone.now() + datetime.timedelta(minutes=10)
    open_event.registration_opens_at = opens
    open_event.save()
    get_page(client, open_event)
    assert "Aanmelden opent op" in get_page(client, open_event)[1]

    later = opens + datetime.timedelta(seconds=1)
    monkeypatch.setattr("sitewide.pagecache.time.time", lambda: later.timestamp())
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    response, html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "miss"
    assert "Aanmelden opent op" not in html and "plekken vrij" in html


def test_the_form_keeps_its_programme_across_the_opening(
    client, page_cache, open_event, monkeypatch
):
    """At the opening every app server renders the form anew, but it does not read the
    programme again: only the seats, while the first visitors arrive."""
    opens = timezone.now() + datetime.timedelta(seconds=30)  # kept values live 60 s
    open_event.registration_opens_at = opens
    open_event.save()
    assert "Aanmelden opent op" in get_form(client, open_event)[1]

    later = opens + datetime.timedelta(seconds=1)
    monkeypatch.setattr("sitewide.pagecache.time.time", lambda: later.timestamp())
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    with CaptureQueriesContext(connection) as queries:
        response, html = get_form(client, open_event)

    assert response.status_code == 200 and 'name="round_' in html
    assert "plekken vrij" in html
    programme_tables = ("events_event", "events_round", "events_sessionoffering")
    read = [q["sql"] for q in queries if any(f'FROM "{t}"' in q["sql"] for t in programme_tables)]
    assert read == []


def test_logged_in_visitors_get_the_programme_kept_with_exact_seats(
    page_cache, open_event, logged_in_client, django_assert_max_num_queries
):
    """Organisers and moderators are never served a kept page, but the programme in it
    is kept per programme generation: no queries for it, and the seats are still exact."""
    first = logged_in_client.get(open_event.get_absolute_url()).content.decode()
    register_anna(open_event)

    with django_assert_max_num_queries(8):
        second = logged_in_client.get(open_event.get_absolute_url()).content.decode()

    assert "X-Page-Cache" not in logged_in_client.get(open_event.get_absolute_url())
    # Each offering's seats show in the overview and in the programme.
    assert first.count("12 plekken vrij") == 8 and "11 plekken vrij" not in first
    assert second.count("11 plekken vrij") == 4 and second.count("12 plekken vrij") == 4
    change_a_session(open_event)
    assert (
        "Een nieuwe korte tekst."
        in logged_in_client.get(open_event.get_absolute_url()).content.decode()
    )


def test_a_sheet_import_renews_its_event_only(client, db_page_cache, open_event, other_event):
    """Imports write with bulk_create, which sends no signals: they renew explicitly."""
    from events.session_sheet import check_rows, read_sheet, save_rows
    from tests.events.test_session_import import csv_file

    known = Speaker.objects.first()
    mine = kept_pages(client, open_event)
    others = kept_pages(client, other_event)
    rows = read_sheet(csv_file([("Nieuwe sessie", "", known.name, "", "1", "", "")]))

    save_rows(open_event, check_rows(open_event, rows))

    assert set(cache_states(client, mine)) == {"miss"}
    assert set(cache_states(client, others)) == {"hit"}
    assert "Nieuwe sessie" in get_page(client, open_event)[1]


def test_a_server_rechecks_a_kept_pages_programme_at_most_every_few_moments(
    client, page_cache, open_event, monkeypatch
):
    """Production asks the shared cache at most every PAGE_CACHE_RECHECK_SECONDS: a
    programme change shows that much later at most, while seats stay exact."""
    page_cache.PAGE_CACHE_RECHECK_SECONDS = 0.5
    clock = [time.monotonic()]  # the server's clock stands still unless moved on here
    monkeypatch.setattr("sitewide.pagecache.time.monotonic", lambda: clock[0])
    get_page(client, open_event)
    get_page(client, open_event)  # checked now
    change_the_event(open_event)
    register_anna(open_event)

    clock[0] += 0.4
    soon, html = get_page(client, open_event)
    assert soon["X-Page-Cache"] == "hit" and "9 plekken vrij" in html  # seats exact

    clock[0] += 0.2
    response, html = get_page(client, open_event)
    assert response["X-Page-Cache"] == "miss" and "Een nieuwe samenvatting." in html


def test_a_form_sent_back_with_errors_shows_its_seats(client, open_event):
    """Slots are filled on every HTML answer of a view that has them, not only on 200s."""
    register_anna(open_event)
    registration = Registration.objects.get()
    [first_round, _second] = offerings_by_round(open_event)

    response = client.post(
        registration.get_absolute_url(), {f"round_{first_round[0].round_id}": "999999"}
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "<!--slot" not in html and "plekken vrij" in html


def test_the_memory_of_generation_checks_is_bounded():
    checked = {}
    for number in range(pagecache.MAX_CHECKS + 5):
        pagecache.remember_check(checked, ("site", f"event:{number}"), (0.0, ("g",)))

    assert len(checked) <= pagecache.MAX_CHECKS
    assert ("site", f"event:{pagecache.MAX_CHECKS + 4}") in checked


def render_at_once(handler, path, *, threads=2):
    """`threads` anonymous visitors asking for `path` at the same moment: their responses."""
    start = threading.Barrier(threads)
    responses = []

    def visit():
        request = RequestFactory(SERVER_NAME="localhost").get(path)
        start.wait()
        responses.append(handler(request))

    visitors = [threading.Thread(target=visit) for _ in range(threads)]
    for visitor in visitors:
        visitor.start()
    for visitor in visitors:
        visitor.join()
    return responses


def test_visitors_asking_for_a_page_being_rendered_wait_for_that_render(page_cache):
    """When a kept page expires under load, the threads of an app server asking for it
    render it once between them, not once each."""
    renders = []

    @pagecache.page_cached(scopes=lambda: ["listing"])
    def slow_page(request):
        renders.append(request)
        time.sleep(0.3)  # the other visitor arrives meanwhile
        return HttpResponse("<p>Programma</p>")

    def inner(request):
        return middleware.process_view(request, slow_page, (), {}) or slow_page(request)

    middleware = pagecache.PageCacheMiddleware(inner)

    responses = render_at_once(middleware, "/programma/")

    assert len(renders) == 1
    assert sorted(response["X-Page-Cache"] for response in responses) == ["hit", "miss"]
    assert {response.content for response in responses} == {b"<p>Programma</p>"}


def test_visitors_asking_for_a_form_being_rendered_wait_for_that_render(
    page_cache, open_event, monkeypatch
):
    renders = []

    def slow_form(request, slug, generation, key):
        renders.append(request)
        time.sleep(0.3)
        page = pagecache.SlottedPage("<p>Formulier</p>")
        registration_views.PROGRAMMES.put(key, page)
        return HttpResponse(page.fill({}))

    monkeypatch.setattr(registration_views, "_registration_page", slow_form)
    path = reverse("registrations:create", args=[open_event.slug])

    responses = render_at_once(
        lambda request: registration_views.register(request, slug=open_event.slug), path
    )

    assert len(renders) == 1
    assert {response.content for response in responses} == {b"<p>Formulier</p>"}


def test_a_session_cancelled_after_the_programme_was_kept_is_refused_in_dutch(
    client, page_cache, open_event
):
    """The kept programme still offers it; under the lock the registration finds it
    cancelled, and the form comes back with what was typed and a message to choose again."""
    get_form(client, open_event)  # keeps the programme
    offering = offerings_by_round(open_event)[0][0]
    type(offering).objects.filter(pk=offering.pk).update(cancelled_at=timezone.now())

    url = reverse("registrations:create", args=[open_event.slug])
    response = client.post(url, registration_form_data(open_event, email="anna@example.nl"))

    html = response.content.decode()
    assert response.status_code == 400
    assert f"{offering.session.title} is zojuist geannuleerd. Kies een andere sessie." in html
    assert 'value="anna@example.nl"' in html
    assert not Registration.objects.filter(email="anna@example.nl").exists()


def test_sessions_moved_into_one_round_after_the_programme_was_kept_are_refused_in_dutch(
    client, page_cache, open_event
):
    first_round, second_round = offerings_by_round(open_event)
    moved = second_round[1]  # the second choice of registration_form_data
    first_round[1].delete()  # its session is then offered in the second round only
    get_form(client, open_event)  # keeps the programme
    data = registration_form_data(open_event, email="anna@example.nl")  # as the form showed
    type(moved).objects.filter(pk=moved.pk).update(round=first_round[0].round)

    response = client.post(reverse("registrations:create", args=[open_event.slug]), data)

    html = response.content.decode()
    assert response.status_code == 400
    assert "Het programma is zojuist gewijzigd. Bekijk je keuzes en verstuur ze opnieuw." in html
    assert not Registration.objects.filter(email="anna@example.nl").exists()
