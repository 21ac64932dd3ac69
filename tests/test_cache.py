"""The database cache of production (sitewide/cache.py): one-statement reads and writes,
atomic counts, through the ORM."""

import datetime

import pytest
from django.core.cache import caches
from django.db import OperationalError, connection
from django.test.utils import override_settings

from sitewide.models import CacheEntry
from tests.registrations.test_concurrency import _rush

pytestmark = pytest.mark.django_db

DATABASE_CACHE = {"default": {"BACKEND": "sitewide.cache.DatabaseCache"}}


@pytest.fixture
def db_cache():
    with override_settings(CACHES=DATABASE_CACHE):
        yield caches["default"]


def test_set_get_overwrite_and_delete(db_cache):
    db_cache.set("stamp", "one", timeout=None)
    db_cache.set("count", (1700000000.0, 3), timeout=600)
    assert db_cache.get("stamp") == "one"
    assert db_cache.get("count") == (1700000000.0, 3)

    db_cache.set("stamp", "two", timeout=None)
    assert db_cache.get("stamp") == "two"
    db_cache.delete("stamp")
    assert db_cache.get("stamp") is None


def test_expired_values_are_gone(db_cache):
    db_cache.set("soon", "x", timeout=600)
    CacheEntry.objects.update(expires=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    assert db_cache.get("soon") is None
    assert db_cache.add("soon", "again", timeout=600) is True
    assert db_cache.get("soon") == "again"


def test_a_write_is_one_statement(db_cache, django_assert_num_queries, monkeypatch):
    monkeypatch.setattr(type(db_cache), "cull_every", 10**9)  # no count this time
    db_cache.set("stamp", "one", timeout=None)
    with django_assert_num_queries(1) as captured:
        db_cache.set("stamp", "two", timeout=None)
    assert "ON CONFLICT" in captured.captured_queries[0]["sql"]
    assert db_cache.get("stamp") == "two"


def test_many_values_are_written_in_one_statement(db_cache, django_assert_num_queries, monkeypatch):
    monkeypatch.setattr(type(db_cache), "cull_every", 10**9)
    db_cache.set("a", 0, timeout=None)
    with django_assert_num_queries(1):
        db_cache.set_many({"a": 1, "b": 2, "c": 3}, timeout=600)
    assert db_cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "b": 2, "c": 3}
    assert db_cache.delete_many(["a", "b"]) == 2
    assert db_cache.get_many(["a", "b", "c"]) == {"c": 3}


def test_touch_has_key_and_clear(db_cache):
    db_cache.set("kept", 1, timeout=600)
    assert db_cache.has_key("kept") and not db_cache.has_key("missing")
    assert db_cache.touch("kept", timeout=None) is True
    assert CacheEntry.objects.get().expires.year == 9999
    assert db_cache.touch("missing") is False
    db_cache.clear()
    assert db_cache.get("kept") is None


def test_a_missing_key_gives_the_default(db_cache):
    assert db_cache.get("missing") is None
    assert db_cache.get("missing", "fallback") == "fallback"
    db_cache.set("kept", {"seats": [1, 2]}, timeout=600)
    assert db_cache.get("kept", "fallback") == {"seats": [1, 2]}


def test_a_read_is_one_statement(db_cache, django_assert_num_queries):
    db_cache.set("stamp", "one", timeout=None)
    with django_assert_num_queries(1) as captured:
        assert db_cache.get("stamp") == "one"
    assert '"expires" >' in captured.captured_queries[0]["sql"]  # expired rows are not read


def test_the_table_is_culled_now_and_then(db_cache, monkeypatch):
    monkeypatch.setattr(type(db_cache), "cull_every", 1)  # count on every write
    monkeypatch.setattr(db_cache, "_max_entries", 10)
    for number in range(30):
        db_cache.set(f"key{number}", number, timeout=600)
    assert CacheEntry.objects.count() <= 11
    assert db_cache.get("key29") == 29


@pytest.fixture
def kept_connection_cache(kept_connection):
    """The database cache on a connection kept from an earlier request."""
    with override_settings(CACHES=DATABASE_CACHE):
        cache = caches["default"]
        cache.set("stamp", "one", timeout=None)
        kept_connection.health_check_done = False  # the set above was its request's check
        yield cache


def terminate_backend():
    """Kill the server side of Django's connection, as a PostgreSQL restart does."""
    import psycopg

    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


@pytest.mark.postgres
def test_the_first_read_of_a_request_is_the_health_check(kept_connection_cache, monkeypatch):
    checks = []
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or True)

    assert kept_connection_cache.get("stamp") == "one"

    assert checks == []  # no SELECT 1 of its own
    assert connection.health_check_done is True


@pytest.mark.postgres
def test_a_broken_kept_connection_is_replaced_and_read_again(kept_connection_cache):
    old_pid = terminate_backend()

    assert kept_connection_cache.get("stamp") == "one"

    assert connection.connection.info.backend_pid != old_pid


@pytest.mark.postgres
def test_later_reads_of_a_request_are_not_retried(kept_connection_cache):
    assert kept_connection_cache.get("stamp") == "one"  # the check, done
    terminate_backend()

    with pytest.raises(OperationalError):
        kept_connection_cache.get("stamp")


# ------------------------------------------------------------------------------ counting


def test_incr_and_decr_count_and_keep_the_expiry(db_cache):
    db_cache.add("count", 5, timeout=600)

    assert db_cache.incr("count") == 6
    assert db_cache.incr("count", 10) == 16
    assert db_cache.decr("count") == 15
    assert db_cache.get("count") == 15
    assert db_cache.add("count", 0, timeout=600) is False  # a live value stays
    assert db_cache.get("count") == 15


def test_incr_of_a_missing_or_expired_key_raises_value_error(db_cache):
    with pytest.raises(ValueError, match="not found"):
        db_cache.incr("missing")
    db_cache.set("old", 3, timeout=600)
    CacheEntry.objects.update(expires=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
    with pytest.raises(ValueError, match="not found"):
        db_cache.incr("old")


def statements(captured):
    """The statements sent, without the savepoints around them."""
    return [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO"))
    ]


def test_add_outside_a_transaction_takes_no_savepoint(transactional_db, monkeypatch):
    """As a request's rate limit opens a window: the INSERT alone, refused harmlessly."""
    from django.test.utils import CaptureQueriesContext

    with override_settings(CACHES=DATABASE_CACHE):
        cache = caches["default"]
        monkeypatch.setattr(type(cache), "cull_every", 10**9)
        with CaptureQueriesContext(connection) as captured:
            assert cache.add("window", 1, timeout=600) is True
            assert cache.add("window", 2, timeout=600) is False
        CacheEntry.objects.update(expires=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
        assert cache.add("window", 3, timeout=600) is True  # the expired one replaced
        assert cache.get("window") == 3

    sent = [query["sql"] for query in captured.captured_queries]
    assert len(sent) == 3 and not any("SAVEPOINT" in sql for sql in sent)


def test_add_is_one_statement_for_a_new_key_and_incr_two(db_cache, monkeypatch):
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(type(db_cache), "cull_every", 10**9)  # no count this time
    with CaptureQueriesContext(connection) as captured:
        assert db_cache.add("count", 1, timeout=600) is True
    assert len(statements(captured)) == 1  # the insert
    with CaptureQueriesContext(connection) as captured:
        assert db_cache.add("count", 1, timeout=600) is False
    assert len(statements(captured)) == 2  # the insert refused, and no expired row replaced
    with CaptureQueriesContext(connection) as captured:
        assert db_cache.incr("count") == 2
    assert len(statements(captured)) == 2  # read, then compare and set


@pytest.fixture
def shared_db_cache(transactional_db):
    """The database cache as app servers share it: every thread its own connection."""
    with override_settings(CACHES=DATABASE_CACHE):
        yield caches["default"]


@pytest.mark.postgres
@pytest.mark.xdist_group("rush")  # as tests/registrations/test_concurrency.py
def test_simultaneous_increments_are_all_counted(shared_db_cache):
    shared_db_cache.add("count", 0, timeout=600)

    errors = _rush(lambda number: caches["default"].incr("count"), 60)

    assert errors == []
    assert shared_db_cache.get("count") == 60


def test_a_slot_is_marked_by_its_tag_and_filled_per_response():
    from django.template import engines

    from sitewide.pagecache import SlottedPage, slot

    html = (
        engines["django"].from_string('{% load page_slots %}<p>{% slot "seats:7" %}</p>').render()
    )
    assert html == f"<p>{slot('seats:7')}</p>" == "<p><!--slot:seats:7--></p>"
    page = SlottedPage(html)
    assert page.fill({"seats:7": "3 plaatsen <vrij>"}) == b"<p>3 plaatsen &lt;vrij&gt;</p>"
    with pytest.raises(ValueError):
        slot("x--><script>")
