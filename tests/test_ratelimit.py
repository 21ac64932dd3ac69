"""The rate limit's windows (sitewide/ratelimit.py): one statement counts an attempt, every
attempt is counted, a window lasts its period from the first attempt, and only a keyed hash
of the identity is stored."""

import pytest
from django.test import RequestFactory

from sitewide import ratelimit
from sitewide.models import RateWindow
from tests.registrations.test_concurrency import _rush
from tests.test_cache import terminate_backend

pytestmark = pytest.mark.django_db

START = 1_800_000_000.0


@pytest.fixture
def clock(monkeypatch):
    """The time the rate limit sees; `clock.now`."""

    class Clock:
        now = START

    monkeypatch.setattr("sitewide.ratelimit.time.time", lambda: Clock.now)
    return Clock


@pytest.fixture
def no_culling(monkeypatch):
    monkeypatch.setattr(ratelimit, "CULL_EVERY", 10**9)


def attempts_let_through(identity, tries=5):
    return [ratelimit.hit("test", identity, "3/1m") for _ in range(tries)]


def test_over_the_limit_an_attempt_waits_until_the_window_of_the_first_ends(clock):
    ratelimit.hit("test", "203.0.113.5", "3/1m")
    clock.now += 20.5
    waits = attempts_let_through("203.0.113.5", tries=3)

    assert waits == [None, None, 40]  # 60 s from the first attempt, rounded up


def test_a_new_window_opens_after_the_period(clock):
    first = attempts_let_through("203.0.113.5")
    clock.now += 60

    second = attempts_let_through("203.0.113.5")

    assert first[:3] == second[:3] == [None, None, None]
    assert first[3:] == second[3:] == [60, 60]


def test_identities_and_scopes_are_counted_apart(clock):
    attempts_let_through("203.0.113.5", tries=3)

    assert ratelimit.hit("test", "198.51.100.7", "3/1m") is None
    assert ratelimit.hit("other", "203.0.113.5", "3/1m") is None
    assert ratelimit.hit("test", "203.0.113.5", "3/1m") == 60


def test_no_limit_counts_nothing(clock):
    assert [ratelimit.hit("test", "203.0.113.5", "off") for _ in range(5)] == [None] * 5
    assert not RateWindow.objects.exists()


def test_a_count_given_back_after_its_window_ended_throttles_nobody(clock):
    ratelimit.hit("test", "203.0.113.5", "3/1m")
    clock.now += 61
    ratelimit.give_back("test", "203.0.113.5")  # a login that took the whole window

    waits = attempts_let_through("203.0.113.5")
    clock.now += 61

    assert waits[:3] == [None, None, None]
    assert waits[3] is not None
    assert attempts_let_through("203.0.113.5")[:3] == [None, None, None]


def test_more_give_backs_than_attempts_in_a_window_throttle_nobody(clock):
    ratelimit.hit("test", "203.0.113.5", "3/1m")
    for _ in range(4):  # one for that attempt, three for attempts of the window before
        ratelimit.give_back("test", "203.0.113.5")

    waits = attempts_let_through("203.0.113.5", tries=7)

    assert waits[:6] == [None] * 6  # three more, for the extra give-backs
    assert 0 < waits[6] <= 60


def test_counting_an_attempt_is_one_statement(clock, no_culling, django_assert_num_queries):
    ratelimit.hit("test", "203.0.113.5", "3/1m")
    with django_assert_num_queries(1):
        ratelimit.hit("test", "198.51.100.7", "3/1m")  # a new window
    with django_assert_num_queries(1):
        ratelimit.hit("test", "203.0.113.5", "3/1m")  # counted in one
    clock.now += 60
    with django_assert_num_queries(1):
        ratelimit.hit("test", "203.0.113.5", "3/1m")  # one that ended, replaced


def test_the_table_holds_a_keyed_hash_only_and_ended_windows_go(clock, monkeypatch):
    monkeypatch.setattr(ratelimit, "CULL_EVERY", 10**9)
    ratelimit.hit("login-account", "organisator", "3/1m")
    ratelimit.hit("login-address", "203.0.113.5", "3/10m")
    keys = " ".join(RateWindow.objects.values_list("key", flat=True))
    assert "organisator" not in keys and "203.0.113.5" not in keys

    clock.now += 60
    monkeypatch.setattr(ratelimit, "CULL_EVERY", 1)
    ratelimit.hit("test", "198.51.100.7", "3/1m")

    assert sorted(RateWindow.objects.values_list("key", flat=True)) == sorted(
        [ratelimit._key("login-address", "203.0.113.5"), ratelimit._key("test", "198.51.100.7")]
    )


@pytest.mark.postgres
@pytest.mark.xdist_group("rush")  # as tests/registrations/test_concurrency.py
def test_the_rate_limit_lets_exactly_its_limit_through_a_rush(transactional_db):
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.5")
    accepted = []

    def attempt(number):
        if ratelimit.seconds_to_wait(request, "registration", "20/10m") is None:
            accepted.append(number)

    errors = _rush(attempt, 60)

    assert errors == []
    assert len(accepted) == 20
    assert RateWindow.objects.get().attempts == 60


@pytest.mark.postgres
def test_the_count_of_a_post_is_its_health_check(kept_connection, monkeypatch):
    checks = []
    monkeypatch.setattr(kept_connection, "is_usable", lambda: checks.append(1) or True)

    assert ratelimit.hit("test", "203.0.113.5", "3/1m") is None

    assert checks == []  # no SELECT 1 of its own
    assert kept_connection.health_check_done is True


@pytest.mark.postgres
def test_on_a_broken_kept_connection_the_attempt_is_counted_on_a_new_one(kept_connection):
    old_pid = terminate_backend()

    assert ratelimit.hit("test", "203.0.113.5", "3/1m") is None

    assert kept_connection.connection.info.backend_pid != old_pid
    assert RateWindow.objects.get(key=ratelimit._key("test", "203.0.113.5")).attempts == 1
