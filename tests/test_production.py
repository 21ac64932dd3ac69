"""Production set-up: settings, health check, error pages, security headers, page cache.

Tests of production settings run Django in a subprocess: the test suite itself imports
pytest, which the settings read as "not production".
"""

import contextlib
import datetime
import json
import logging
import os
import re
import runpy
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.middleware.csrf import _does_token_match
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone, translation
from django.views import defaults
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from registrations import services
from registrations.models import Registration, SeatReservation
from sitewide import checks, pagecache
from sitewide import views as site_views
from sitewide.log_filters import RedactPersonalData
from tests.factories import (
    SeriesFactory,
    SpeakerFactory,
    build_programme,
    offerings_by_round,
    registration_form_data,
)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
SECRET = "x" * 10 + "production-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(**overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "GUNICORN_")) and k != "DATABASE_URL"
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": SECRET,
            "DJANGO_ALLOWED_HOSTS": "programma.example.nl",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://programma.example.nl",
            "DJANGO_SITE_URL": "https://programma.example.nl",
            "DATABASE_URL": "postgres://buurt:secret@127.0.0.1:5432/buurt",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
            "DJANGO_TRUSTED_PROXY_COUNT": "1",
        }
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def run_django(code_or_args, env, timeout=60):
    if isinstance(code_or_args, str):
        args = [sys.executable, "-c", "import django; django.setup()\n" + code_or_args]
    else:
        args = [sys.executable, "manage.py", *code_or_args]
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


# ------------------------------------------------------------------------------ settings


def test_check_deploy_is_clean_with_production_environment():
    result = run_django(["check", "--deploy", "--fail-level", "WARNING"], production_env())

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_check_deploy_warns_without_an_explicit_proxy_count():
    result = run_django(
        ["check", "--deploy", "--fail-level", "WARNING"],
        production_env(DJANGO_TRUSTED_PROXY_COUNT=None),
    )

    assert result.returncode != 0
    assert "(sitewide.W001) DJANGO_TRUSTED_PROXY_COUNT is not set" in result.stderr


@pytest.mark.parametrize(("count", "warned"), [(None, True), (0, False), (1, False)])
def test_the_proxy_count_check_wants_a_stated_count(settings, count, warned):
    settings.TRUSTED_PROXY_COUNT = count

    messages = checks.check_trusted_proxy_count(None)

    assert [message.id for message in messages] == (["sitewide.W001"] if warned else [])


def test_production_settings_are_strict():
    code = (
        "from django.conf import settings as s\n"
        "import json\n"
        "print(json.dumps([s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER,"
        " s.CSRF_TRUSTED_ORIGINS, s.DATABASES['default']['CONN_MAX_AGE'],"
        " s.DATABASES['default']['CONN_HEALTH_CHECKS'], s.CACHES['default']['BACKEND'],"
        " s.SESSION_ENGINE, s.EMAIL_BACKEND, s.STORAGES['staticfiles']['BACKEND'],"
        " s.REGISTRATION_RATE_LIMIT]))"
    )

    result = run_django(code, production_env())

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        False,
        True,
        True,
        True,
        31536000,
        ["HTTP_X_FORWARDED_PROTO", "https"],
        ["https://programma.example.nl"],
        600,
        True,
        "sitewide.cache.DatabaseCache",
        "django.contrib.sessions.backends.db",
        "django.core.mail.backends.smtp.EmailBackend",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "20/10m",
    ]


@pytest.mark.parametrize(
    "missing",
    ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "DJANGO_SITE_URL"],
)
def test_production_refuses_to_start_without_a_required_setting(missing):
    result = run_django(["check"], production_env(**{missing: None}))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set when DJANGO_DEBUG is off" in result.stderr


def test_production_names_every_missing_setting_at_once():
    env = production_env(DJANGO_SECRET_KEY=None, DATABASE_URL=None)

    result = run_django(["check"], env)

    assert "DJANGO_SECRET_KEY, DATABASE_URL must be set" in result.stderr


def test_production_refuses_sqlite():
    result = run_django(["check"], production_env(DATABASE_URL="sqlite:////tmp/x.sqlite3"))

    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL in production." in result.stderr


def test_source_commands_run_without_production_settings():
    env = {k: v for k, v in production_env().items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.pop("DATABASE_URL")

    migrations = run_django(["makemigrations", "--check", "--dry-run"], env)
    serving = run_django(["check"], env)

    assert migrations.returncode == 0, migrations.stderr
    assert "No changes detected" in migrations.stdout
    assert serving.returncode != 0
    assert "must be set when DJANGO_DEBUG is off" in serving.stderr


def test_debug_runs_without_production_settings():
    env = {k: v for k, v in production_env().items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"})
    env.pop("DATABASE_URL")

    result = run_django(["check"], env)

    assert result.returncode == 0, result.stderr


def test_gunicorn_config_reads_workers_threads_and_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "20")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.delenv("GUNICORN_BIND", raising=False)

    config = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))

    assert (config["workers"], config["threads"], config["timeout"]) == (3, 8, 20)
    assert config["bind"] == "127.0.0.1:9000"
    assert config["worker_class"] == "gthread"
    assert (config["accesslog"], config["errorlog"]) == ("-", "-")
    assert "%(h)s" not in config["access_log_format"]  # no client addresses
    handler = config["logconfig_dict"]["handlers"]["stdout"]
    assert (handler["stream"], handler["filters"]) == ("ext://sys.stdout", ["redact_personal_data"])


def test_gunicorn_defaults_follow_the_cores_and_the_e_mail_delivery(monkeypatch):
    for name in ["GUNICORN_WORKERS", "WEB_CONCURRENCY", "GUNICORN_THREADS"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    path = str(ROOT / "config" / "gunicorn.conf.py")

    monkeypatch.delenv("DJANGO_EMAIL_DELIVERY", raising=False)
    immediate = runpy.run_path(path)
    monkeypatch.setenv("DJANGO_EMAIL_DELIVERY", "queue")
    queued = runpy.run_path(path)

    # Requests that wait for the mail server get more threads.
    assert (immediate["workers"], immediate["threads"]) == (3, 4)
    assert (queued["workers"], queued["threads"]) == (3, 2)


def results(completed):
    """The lines a subprocess printed with print("RESULT", ...), not its log lines."""
    return [line[7:] for line in completed.stdout.splitlines() if line.startswith("RESULT ")]


# ------------------------------------------------------------------------------ static files


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """`collectstatic` as a release runs it, once for the tests that need its output."""
    root = tmp_path_factory.mktemp("static")
    env = production_env(DJANGO_STATIC_ROOT=str(root))
    collected = run_django(["collectstatic", "--noinput", "-v0"], env, timeout=180)
    assert collected.returncode == 0, collected.stderr
    return root


def test_collected_static_files_are_hashed_compressed_and_cached_for_long(static_root):
    env = production_env(DJANGO_STATIC_ROOT=str(static_root))
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = manifest["css/site.css"]
    code = (
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='programma.example.nl', HTTP_X_FORWARDED_PROTO='https')\n"
        f"r = c.get('/static/{hashed}', HTTP_ACCEPT_ENCODING='gzip')\n"
        "print('RESULT', r.status_code, r['Cache-Control'], r.get('Content-Encoding'))\n"
    )

    result = run_django(code, env)

    assert hashed != "css/site.css"
    assert results(result) == ["200 max-age=315360000, public, immutable gzip"], result.stderr


# ------------------------------------------------------------------------------ health check


@pytest.mark.django_db
def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")

    assert (response.status_code, response.content) == (200, b"ok\n")
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_needs_no_allowed_host_and_no_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/healthz", HTTP_HOST="10.0.3.17:8000")

    assert response.status_code == 200


def test_unreachable_database_gives_503_health_and_dutch_503_pages(static_root):
    closed_port = free_port()
    env = production_env(
        DATABASE_URL=f"postgres://buurt:secret@127.0.0.1:{closed_port}/buurt",
        DJANGO_DB_CONNECT_TIMEOUT="2",
        DJANGO_STATIC_ROOT=str(static_root),
    )
    code = (
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='programma.example.nl', HTTP_X_FORWARDED_PROTO='https')\n"
        "h = Client().get('/healthz', HTTP_HOST='10.0.3.17')\n"
        "print('RESULT', h.status_code, h.content.decode().strip())\n"
        "for path in ['/', '/evenementen/dag-van-de-buurt/aanmelden/']:\n"
        "    r = c.get(path)\n"
        "    dutch = 'Tijdelijk niet beschikbaar' in r.content.decode()\n"
        "    print('RESULT', r.status_code, r['Retry-After'], dutch)\n"
        "r = c.post('/evenementen/dag-van-de-buurt/aanmelden/', {'name': 'x'})\n"
        "print('RESULT', r.status_code, 'Tijdelijk niet beschikbaar' in r.content.decode())\n"
    )

    result = run_django(code, env)

    assert results(result) == [
        "503 database unavailable",
        "503 30 True",
        "503 30 True",
        "503 True",  # a registration sent during the outage
    ], result.stderr
    assert "Database unavailable (OperationalError): answered 503" in result.stdout


# ------------------------------------------------------------------------------ error pages


@pytest.fixture
def logged_in_client(client, db):
    user = get_user_model().objects.create_user("moderator", password="x")
    client.force_login(user)
    return client


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
    from django.test import Client

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


# ------------------------------------------------------------------------------ headers


@pytest.mark.django_db
def test_pages_carry_security_headers(client):
    response = client.get(reverse("events:home"))

    assert response["Content-Security-Policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; object-src 'none'"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Permissions-Policy"].startswith("camera=()")


@pytest.mark.django_db
def test_error_pages_carry_security_headers_too(client):
    response = client.get("/bestaat/niet/")

    assert "Content-Security-Policy" in response
    assert response["X-Content-Type-Options"] == "nosniff"


class InlineCodeFinder(HTMLParser):
    """What a `script-src 'self'; style-src 'self'` policy would block."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        # JSON-LD is data, never executed: script-src does not apply to it.
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/ld+json":
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs.items():
            if name == "style":
                self.found.append(f"style attribute on <{tag}>")
            if name.startswith("on"):
                self.found.append(f"{name} handler on <{tag}>")
            if name in {"href", "src", "action"} and (value or "").startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")


def inline_code(html):
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.found


def test_templates_contain_no_inline_scripts_or_styles():
    found = {}
    for path in TEMPLATES.rglob("*.html"):
        if "email" in path.relative_to(TEMPLATES).parts:
            continue  # e-mails are not pages; mail clients need inline styles
        if problems := inline_code(path.read_text()):
            found[str(path.relative_to(TEMPLATES))] = problems

    assert found == {}


@pytest.mark.django_db
def test_rendered_pages_satisfy_the_content_security_policy(client, admin_client):
    series = SeriesFactory()
    event = build_programme(sessions=2, rounds=2, series=series)
    session = event.sessions.first()
    speaker = SpeakerFactory()
    register = reverse("registrations:create", args=[event.slug])
    pages = {
        "home": client.get(reverse("events:home")),
        "event": client.get(event.get_absolute_url()),
        "session": client.get(session.get_absolute_url()),
        "series": client.get(reverse("events:series", args=[series.slug])),
        "speaker": client.get(speaker.get_absolute_url()),
        "registration form": client.get(register),
        "registration form with errors": client.post(register, {"name": ""}),
        "series form": client.get(reverse("registrations:series", args=[series.slug])),
        "privacy": client.get(reverse("registrations:privacy")),
        "404": client.get("/bestaat/niet/"),
        "admin": admin_client.get(reverse("admin:index")),
        "admin event": admin_client.get(reverse("admin:events_event_change", args=[event.pk])),
    }

    found = {name: inline_code(r.content.decode()) for name, r in pages.items()}

    assert {name: r.status_code for name, r in pages.items()} == {
        **dict.fromkeys(pages, 200),
        "registration form with errors": 400,
        "404": 404,
    }
    assert {name: problems for name, problems in found.items() if problems} == {}


@pytest.mark.browser
def test_browser_reports_no_csp_violations(page, live_server, transactional_db):
    event = build_programme(sessions=2, rounds=2)
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    console = []
    page.on("console", lambda message: console.append(message.text))
    violations = {}
    for path in [
        reverse("events:home"),
        event.get_absolute_url(),
        reverse("registrations:create", args=[event.slug]),
        "/bestaat/niet/",
    ]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
        if path.endswith("/aanmelden/"):
            with page.expect_navigation():
                page.get_by_role(
                    "button", name="Aanmelden", exact=True
                ).click()  # errors: forms.js runs
            assert page.evaluate("document.activeElement.id") == "error-summary"
        violations[path] = page.evaluate("window.__csp")

    assert {path: v for path, v in violations.items() if v} == {}
    assert [text for text in console if "Content Security Policy" in text] == []


# ------------------------------------------------------------------------------ logging


def make_record(message, *args, exc_info=None):
    return logging.LogRecord("django.request", logging.ERROR, __file__, 1, message, args, exc_info)


def test_log_filter_removes_addresses_and_personal_links():
    record = make_record(
        "Internal Server Error: %s for %s", "/aanmelding/AbC-123_xyz/annuleren/", "anna@example.nl"
    )

    RedactPersonalData().filter(record)

    assert (
        record.getMessage() == "Internal Server Error: /aanmelding/[token]/annuleren/ for [e-mail]"
    )


def test_log_filter_cleans_tracebacks():
    try:
        raise ValueError("Key (event_id, email)=(1, anna@example.nl) already exists.")
    except ValueError:
        record = make_record("boom", exc_info=sys.exc_info())

    RedactPersonalData().filter(record)

    assert "anna@example.nl" not in logging.Formatter().format(record)
    assert record.exc_text.endswith("ValueError: [message left out: it may quote personal data]")


def test_log_filter_leaves_participant_text_out_of_exception_messages():
    # Before: openpyxl's message quoted the name, raw ESC byte included, and so did the
    # exception it was raised while handling.
    name = "Anna\x1b[31m de Boer"  # not in the source lines of the frames below
    try:
        try:
            raise KeyError(name)
        except KeyError:
            Workbook().active.append([name])
    except IllegalCharacterError:
        record = make_record("Internal Server Error: %s", "/lijsten/", exc_info=sys.exc_info())

    RedactPersonalData().filter(record)

    logged = logging.Formatter().format(record)
    assert ("Anna" in logged, "\x1b" in logged) == (False, False)
    assert "KeyError: [message left out" in logged
    assert "openpyxl.utils.exceptions.IllegalCharacterError: [message left out" in logged
    assert "Workbook().active.append([name])" in logged  # the frames are still there


def test_log_filter_escapes_control_characters():
    record = make_record("Not Found: %s", "/x\n2026-01-01 ERROR forged\x1b[2J\x9b")

    RedactPersonalData().filter(record)

    assert record.getMessage() == "Not Found: /x\\x0a2026-01-01 ERROR forged\\x1b[2J\\x9b"


def test_log_filter_keeps_messages_of_connection_errors():
    try:
        raise OperationalError("connection to server at 127.0.0.1 port 5432 failed")
    except OperationalError:
        record = make_record("Database unavailable", exc_info=sys.exc_info())

    RedactPersonalData().filter(record)

    assert record.exc_text.endswith(
        "django.db.utils.OperationalError: connection to server at 127.0.0.1 port 5432 failed"
    )


def test_every_log_line_passes_the_filter():
    handler = settings.LOGGING["handlers"]["console"]

    assert handler["filters"] == ["redact_personal_data"]
    assert settings.LOGGING["root"]["handlers"] == ["console"]
    assert settings.LOGGING["loggers"]["django"] == {
        "handlers": [],
        "level": "INFO",
        "propagate": True,
    }


# ------------------------------------------------------------------------------ page cache


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


def test_visitors_with_a_session_are_never_served_from_the_cache(client, page_cache, open_event):
    user = get_user_model().objects.create_user("moderator", password="x")
    client.force_login(user)
    client.get(open_event.get_absolute_url())

    response = client.get(open_event.get_absolute_url())

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


def test_visitors_with_a_session_get_the_form_rendered(client, page_cache, open_event):
    user = get_user_model().objects.create_user("moderator", password="x")
    client.force_login(user)
    url = reverse("registrations:create", args=[open_event.slug])
    client.get(url)

    response = client.get(url)

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


# ------------------------------------------------------------------------------ gunicorn


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_site_with_production_settings(tmp_path):
    """The documented production command, against the test database."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = free_port()
    env = production_env(
        DATABASE_URL=url,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_CACHE_URL="locmem://",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
    )
    assert run_django(["collectstatic", "--noinput", "-v0"], env, timeout=120).returncode == 0
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(gunicorn), "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        import http.client

        def get(path, **headers):
            for _ in range(100):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    return response.status, dict(response.getheaders()), response.read()
                except ConnectionRefusedError:
                    time.sleep(0.1)
            raise AssertionError(log.read_text())

        health = get("/healthz")
        plain_http = get("/")
        home = get("/", **{"X-Forwarded-Proto": "https"})
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert health[0] == 200
    assert plain_http[0] == 301
    assert plain_http[1]["Location"] == f"https://127.0.0.1:{port}/"
    assert home[0] == 200
    assert "Strict-Transport-Security" in home[1]
    assert b'<html lang="nl">' in home[2]
    lines = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in lines
    assert "127.0.0.1 -" not in lines  # no client addresses in the access log
