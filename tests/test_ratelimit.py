"""The rate limit's counts (sitewide/ratelimit.py) where an increment races the expiry.

Django's RedisCache.incr checks that the key exists, then increments it; when the key
expires in between, Redis makes it anew, holding the increment, without an expiry. No
Redis runs here, so the caches below increment a missing key the way Redis then does, on
top of the local-memory cache and the project's database cache.
"""

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test.utils import override_settings

from sitewide import ratelimit
from sitewide.cache import DatabaseCache

pytestmark = pytest.mark.django_db

START = 1_800_000_000.0


class RedisIncrementRace:
    """``incr`` of a key that expired after the check that it exists, as Redis answers it:
    a new key holding `delta` and no expiry (``decr`` goes through ``incr``)."""

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except ValueError:
            self.set(key, delta, timeout=None, version=version)
            return delta


class RacyLocMemCache(RedisIncrementRace, LocMemCache):
    pass


class RacyDatabaseCache(RedisIncrementRace, DatabaseCache):
    pass


BACKENDS = {
    "locmem": "django.core.cache.backends.locmem.LocMemCache",
    "database": "sitewide.cache.DatabaseCache",
    "racy locmem": f"{__name__}.RacyLocMemCache",
    "racy database": f"{__name__}.RacyDatabaseCache",
}


def _cache(backend):
    with override_settings(
        CACHES={"default": {"BACKEND": backend, "LOCATION": "test_ratelimit_cache"}}
    ):
        caches["default"].clear()  # the local-memory cache outlives a test
        yield


@pytest.fixture(params=["racy locmem", "racy database"])
def racy_cache(request):
    yield from _cache(BACKENDS[request.param])


@pytest.fixture(params=["locmem", "database"])
def plain_cache(request):
    yield from _cache(BACKENDS[request.param])


@pytest.fixture
def clock(monkeypatch):
    """The time the rate limit (and the local-memory cache's expiry) sees; `clock.now`."""

    class Clock:
        now = START

    monkeypatch.setattr("sitewide.ratelimit.time.time", lambda: Clock.now)
    return Clock


def attempts_let_through(identity, tries=5):
    return [ratelimit.hit("test", identity, "3/1m") for _ in range(tries)]


def test_a_count_left_without_an_expiry_throttles_only_for_its_window(racy_cache, clock):
    first = attempts_let_through("203.0.113.5")
    clock.now += 61

    second = attempts_let_through("203.0.113.5")

    assert first[:3] == second[:3] == [None, None, None]
    assert all(wait is not None and 0 < wait <= 60 for wait in first[3:] + second[3:])


def test_a_count_given_back_after_its_window_ended_throttles_nobody(racy_cache, clock):
    ratelimit.hit("test", "203.0.113.5", "3/1m")
    clock.now += 61
    ratelimit.give_back("test", "203.0.113.5")  # a login that took the whole window

    waits = attempts_let_through("203.0.113.5")
    clock.now += 61

    assert waits[:3] == [None, None, None]
    assert waits[3] is not None
    assert attempts_let_through("203.0.113.5")[:3] == [None, None, None]


def test_more_give_backs_than_attempts_in_a_window_throttle_nobody(plain_cache, clock):
    ratelimit.hit("test", "203.0.113.5", "3/1m")
    for _ in range(4):  # one for that attempt, three for attempts of the window before
        ratelimit.give_back("test", "203.0.113.5")

    waits = attempts_let_through("203.0.113.5", tries=7)

    assert waits[:6] == [None] * 6  # three more, for the extra give-backs
    assert 0 < waits[6] <= 60
