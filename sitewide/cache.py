"""Django's database cache, with one statement per write on PostgreSQL.

Every registration writes the cache: its address's count for the rate limit. Django's
``DatabaseCache.set`` counts the whole table, then selects and updates (or inserts) the row
in a transaction of its own: five statements and a commit for each write. On PostgreSQL
this backend writes with one upsert instead, and counts the table for culling on about one
write in ``cull_every``.

``add`` is one statement on PostgreSQL too (an upsert that only replaces an expired row),
and ``incr`` (and ``decr``) are atomic on every database, for the rate limit's counts:
Django's read the value and wrote it back, so that increments at the same moment were
lost. Here the new value is written only if the row still holds the value read (compare
and set), and read again otherwise: uncontended, a read and a write, with no transaction
or lock held in between.

Reads (``get``, ``get_many``: the rate limit's counts, the page cache's generations) select
only rows that have not expired; Django's own converted every row's expiry date in
Python and deleted expired rows as it read them (culling deletes them here). Other reads,
and every other database, are Django's own.

Such a read is often a request's first query: the rate limit's count, the page cache's
generations. On a connection kept from an earlier request it then stands in for Django's
health check (``CONN_HEALTH_CHECKS``), a ``SELECT 1`` of its own: when the connection
turns out broken (PostgreSQL restarted meanwhile), it is closed and the read repeated on a
new one, which is what the check would have done. A cached page then costs one round
trip instead of two.
"""

import base64
import pickle
import random
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import InterfaceError, OperationalError, connections, router
from django.utils.timezone import now


class DatabaseCache(DjangoDatabaseCache):
    cull_every = 50

    def get(self, key, default=None, version=None):
        db = router.db_for_read(self.cache_model_class)
        connection = connections[db]
        if connection.vendor != "postgresql":
            return super().get(key, default, version)
        key = self.make_and_validate_key(key, version=version)
        rows = self._first_read(connection, [key])
        if not rows:
            return default
        return _loads(rows[0][1])

    def get_many(self, keys, version=None):
        db = router.db_for_read(self.cache_model_class)
        connection = connections[db]
        if connection.vendor != "postgresql":
            return super().get_many(keys, version)
        names = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not names:
            return {}
        return {names[name]: _loads(value) for name, value in self._first_read(connection, names)}

    def _first_read(self, connection, keys):
        """``_read``, which on a kept connection stands in for the health check."""
        checking = _stands_in_for_health_check(connection)
        try:
            return self._read(connection, keys)
        except (OperationalError, InterfaceError):
            if not checking:
                raise
            connection.close()  # broken since its last request: read on a new one
            return self._read(connection, keys)

    def _read(self, connection, keys):
        """The rows (key, value) of `keys` (made keys) that have not expired."""
        table = connection.ops.quote_name(self._table)
        which = ", ".join(["%s"] * len(keys))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT cache_key, value FROM {table} "  # noqa: S608 - our table name
                f"WHERE cache_key IN ({which}) AND expires > %s",
                [*keys, connection.ops.adapt_datetimefield_value(now())],
            )
            return cursor.fetchall()

    def incr(self, key, delta=1, version=None):
        """Add `delta` to the value and return it, atomically; ValueError if the key is
        missing or expired (as Django's)."""
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        key = self.make_and_validate_key(key, version=version)
        table = connection.ops.quote_name(self._table)
        read = self._first_read if connection.vendor == "postgresql" else self._read
        rows = read(connection, [key])
        while rows:
            stored = rows[0][1]
            value = _loads(stored) + delta
            with connection.cursor() as cursor:
                # Compare and set: 0 rows when another write came between (or it expired).
                cursor.execute(
                    f"UPDATE {table} SET value = %s "  # noqa: S608 - our table name
                    "WHERE cache_key = %s AND value = %s AND expires > %s",
                    [
                        _dumps(value, self.pickle_protocol),
                        key,
                        stored,
                        connection.ops.adapt_datetimefield_value(now()),
                    ],
                )
                if cursor.rowcount == 1:
                    return value
            rows = self._read(connection, [key])
        raise ValueError(f"Key '{key}' not found")

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        if connections[router.db_for_write(self.cache_model_class)].vendor != "postgresql":
            return super().add(key, value, timeout, version)
        return self._write(key, value, timeout, version, only_expired=True)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        if connections[router.db_for_write(self.cache_model_class)].vendor != "postgresql":
            return super().set(key, value, timeout, version)
        self._write(key, value, timeout, version)
        return None

    def _write(self, key, value, timeout, version, *, only_expired=False):
        """The upsert on PostgreSQL; with `only_expired`, whether it wrote."""
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        sql, params = self._upsert(connection, key, value, timeout, version)
        if only_expired:  # a live row stays (and add fails); an expired one is replaced
            table = connection.ops.quote_name(self._table)
            sql += f" WHERE {table}.expires <= %s RETURNING 1"
            params.append(connection.ops.adapt_datetimefield_value(now()))
        with connection.cursor() as cursor:
            self._cull_now_and_then(db, cursor)
            cursor.execute(sql, params)
            return only_expired and cursor.fetchone() is not None

    def _cull_now_and_then(self, db, cursor):
        if random.randrange(self.cull_every) == 0:  # noqa: S311 - not for security
            table = connections[db].ops.quote_name(self._table)
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - our table name
            count = cursor.fetchone()[0]
            if count > self._max_entries:
                self._cull(db, cursor, now().replace(microsecond=0), count)

    def _upsert(self, connection, key, value, timeout, version):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        # As Django's own set(): whole seconds, a far future for "never".
        if timeout is None:
            expires = datetime.max
        else:
            expires = datetime.fromtimestamp(timeout, tz=UTC if settings.USE_TZ else None)
        expires = connection.ops.adapt_datetimefield_value(expires.replace(microsecond=0))
        pickled = _dumps(value, self.pickle_protocol)
        table = connection.ops.quote_name(self._table)
        return (
            f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (cache_key) DO UPDATE "
            "SET value = EXCLUDED.value, expires = EXCLUDED.expires",
            [key, pickled, expires],
        )


def _dumps(value, protocol):
    """A value as Django's database cache stores it: pickled, in base64."""
    return base64.b64encode(pickle.dumps(value, protocol)).decode("latin1")


def _loads(stored):
    return pickle.loads(base64.b64decode(stored.encode()))  # noqa: S301 - our own rows


def _stands_in_for_health_check(connection):
    """Whether the next query is the first on a connection kept from an earlier request,
    outside a transaction, that Django would health-check first. If so, it will not: the
    caller's read is the check (it retries once on a new connection)."""
    if (
        connection.connection is None
        or not connection.health_check_enabled
        or connection.health_check_done
        or connection.in_atomic_block
    ):
        return False
    connection.health_check_done = True
    return True
