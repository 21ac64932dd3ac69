"""The page cache: anonymous programme pages and the registration form kept whole,
with the seats filled in per answer, renewed when a write that changes them commits."""

import contextlib
import datetime
import re

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import connection, transaction
from django.middleware.csrf import _does_token_match
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from registrations import services
from registrations.models import Registration, SeatReservation
from sitewide import pagecache
from tests.factories import build_programme, offerings_by_round, registration_form_data


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
    return re.findall(r'class="choice__seats">([^<]*)<', html)


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
    read = pagecache.current_generation
    monkeypatch.setattr(pagecache, "current_generation", lambda *a: reads.append(a) or read(*a))

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


def test_registration_shows_on_the_next_view(client, page_cache, open_event):
    get_page(client, open_event)

    register_anna(open_event)
    response, html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "miss"
    assert "9 plekken vrij" in html  # the event's seats
    assert "11 plekken vrij" in html  # the chosen offerings' (12 seats each)


def test_bulk_updates_invalidate_too(client, page_cache, open_event):
    get_page(client, open_event)

    type(open_event).objects.filter(pk=open_event.pk).update(capacity=7)
    response, html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "miss"
    assert "7 plekken vrij" in html


def test_writes_rolled_back_keep_the_cache(client, page_cache, open_event):
    get_page(client, open_event)

    with contextlib.suppress(RuntimeError), transaction.atomic():
        type(open_event).objects.filter(pk=open_event.pk).update(capacity=7)
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
    """The page cache with its stamps in the database cache, as in production."""
    caches_setting = {
        "default": {"BACKEND": "sitewide.cache.DatabaseCache", "LOCATION": "test_page_cache"}
    }
    watchers = [w for w in connection.execute_wrappers if isinstance(w, pagecache.WriteWatcher)]
    with override_settings(CACHES=caches_setting):
        call_command("createcachetable", verbosity=0)
        for watcher in watchers:  # the cache table's writes change no page
            watcher.ignored = pagecache.ignored_tables()
        yield
    for watcher in watchers:
        watcher.ignored = pagecache.ignored_tables()


def generations():
    return (
        pagecache.current_generation(pagecache.GENERATION_KEY),
        pagecache.current_generation(pagecache.PROGRAMME_GENERATION_KEY),
    )


def test_a_registration_renews_pages_kept_with_the_database_cache(
    client, db_page_cache, open_event
):
    get_page(client, open_event)
    assert get_page(client, open_event)[0]["X-Page-Cache"] == "hit"
    page, programme = generations()

    register_anna(open_event)
    response, html = get_page(client, open_event)

    assert response["X-Page-Cache"] == "miss"
    assert "9 plekken vrij" in html and "11 plekken vrij" in html
    assert generations()[0] != page
    assert generations()[1] == programme  # the kept registration form stays


@pytest.mark.postgres
def test_a_registration_commits_the_new_page_generation_with_its_rows(
    db_page_cache, open_event, settings
):
    """One round trip fewer, and no moment in which the seats have changed but the pages
    kept have not: the new stamp is written with the rows, in their transaction."""
    settings.EMAIL_DELIVERY = "queue"  # nothing of its own after the commit
    page, _programme = generations()
    with CaptureQueriesContext(connection) as captured:
        register_anna(open_event)

    statements = [query["sql"] for query in captured.captured_queries]
    assert statements[-1] == "COMMIT"  # nothing written after it
    [with_stamp] = [sql for sql in statements if pagecache.GENERATION_KEY in sql]
    assert with_stamp.startswith('INSERT INTO "registrations_registration"')
    assert generations()[0] != page


def test_a_registration_rolled_back_keeps_the_pages(client, db_page_cache, open_event):
    get_page(client, open_event)
    before = generations()

    with contextlib.suppress(RuntimeError), transaction.atomic():
        register_anna(open_event)
        raise RuntimeError("roll back")

    assert generations() == before
    assert get_page(client, open_event)[0]["X-Page-Cache"] == "hit"


@pytest.mark.postgres
def test_a_registration_inside_a_longer_transaction_renews_the_pages_after_it(
    db_page_cache, open_event, settings
):
    """A series registration goes on to lock its next event: it must not hold the stamp's
    row meanwhile (a registration for that event would wait for it, and it for them)."""
    settings.EMAIL_DELIVERY = "queue"
    page, _programme = generations()
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        register_anna(open_event)

    statements = [query["sql"] for query in captured.captured_queries]
    commit = statements.index("COMMIT")
    assert not any(pagecache.GENERATION_KEY in sql for sql in statements[:commit])
    assert generations()[0] != page  # renewed after the commit instead


def test_a_programme_change_with_a_registration_renews_the_programme_too(db_page_cache, open_event):
    page, programme = generations()

    with transaction.atomic():
        register_anna(open_event)
        type(open_event).objects.filter(pk=open_event.pk).update(capacity=7)

    assert generations()[0] != page and generations()[1] != programme
