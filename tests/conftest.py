import os
import shutil

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.factories import single_offering
from tests.production import production_env, run_django

# Playwright's sync API runs an event loop in the test thread; the ORM is used beside it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_configure(config):
    """Compile the message catalogs once, as the README's set-up command does: here, before
    pytest-xdist starts its workers, which would otherwise write the same files at once."""
    if not hasattr(config, "workerinput"):
        call_command("compilemessages", locale=["nl"], verbosity=0)


def pytest_collection_modifyitems(config, items):
    """Skip browser tests without Chromium, and PostgreSQL tests on SQLite; never in CI."""
    in_ci = bool(os.environ.get("CI"))
    has_chromium = shutil.which(CHROMIUM) is not None
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    for item in items:
        if "browser" in item.keywords and not has_chromium:
            if in_ci:
                raise pytest.UsageError(f"CI must run the browser tests: {CHROMIUM} is missing.")
            item.add_marker(pytest.mark.skip(reason=f"Chromium not installed at {CHROMIUM}"))
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="needs DATABASE_URL pointing at PostgreSQL"))


@pytest.fixture(scope="session", autouse=True)
def compiled_messages():
    """The compiled catalogs (pytest_configure), not those read before they existed."""
    import gettext

    from asgiref.local import Local
    from django.utils.translation import trans_real

    # Drop catalogs loaded before the compiled files existed (as Django does on a
    # LOCALE_PATHS change), so a fresh clone tests with its translations.
    gettext._translations.clear()
    trans_real._translations = {}
    trans_real._default = None
    trans_real._active = Local()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def dutch_by_default(settings):
    settings.LANGUAGE_CODE = "nl"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def seed_fixtures(db):
    from events.management.commands.load_demo import SEED_FIXTURES

    call_command("loaddata", *SEED_FIXTURES, verbosity=0)


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A Dutch browser: the site then answers in Dutch, as for most participants.
    return {**browser_context_args, "locale": "nl-NL"}


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """`collectstatic` as a release runs it, once for the tests that need its output."""
    root = tmp_path_factory.mktemp("static")
    env = production_env(DJANGO_STATIC_ROOT=str(root))
    collected = run_django(["collectstatic", "--noinput", "-v0"], env, timeout=180)
    assert collected.returncode == 0, collected.stderr
    return root


@pytest.fixture
def moderator(db):
    """A user without permissions, as a moderator is until given a session."""
    return get_user_model().objects.create_user("moderator", password="x")


@pytest.fixture
def logged_in_client(client, moderator):
    client.force_login(moderator)
    return client


@pytest.fixture
def one_seat_event(db):
    """An event of one session in one round with one seat: (event, offering)."""
    offering = single_offering(1)
    return offering.event, offering


@pytest.fixture
def event(db):
    """An open event: two rounds, two sessions each offered in both, 100 seats each
    (tests/registrations has its own)."""
    from tests.factories import build_programme

    return build_programme(sessions=2, rounds=2, capacity=100)


@pytest.fixture
def kept_connection(transactional_db):
    """Django's connection as an app server keeps it from an earlier request (outside a
    transaction), its health check due at the next query."""
    from django.db import connection

    connection.ensure_connection()
    health_checks = connection.health_check_enabled
    connection.health_check_enabled = True
    connection.health_check_done = False  # as close_if_unusable_or_obsolete() leaves it
    yield connection
    connection.health_check_enabled = health_checks
    connection.close()  # a test may have left it broken
