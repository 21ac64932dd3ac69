"""Django's database cache, with one statement per write on PostgreSQL.

Every registration writes the cache twice: its address's count for the rate limit and the
page-cache stamp. Django's ``DatabaseCache.set`` counts the whole table, then selects and
updates (or inserts) the row in a transaction of its own: five statements and a commit for
each write. On PostgreSQL this backend writes with one upsert instead, and counts the table
for culling on about one write in ``cull_every``. ``set_statement`` gives that upsert to a
caller that sends it in its own transaction (the page-cache stamp, with a registration's
rows).

Reads of one key (``get``), three per registration, select only a row that has not
expired, with a statement built once; Django's own converted every row's expiry date in
Python and deleted expired rows as it read them (culling deletes them here). Other reads,
and every other database, are Django's own.

Such a read is often a request's first query: the rate limit's count, the page cache's
stamp. On a connection kept from an earlier request it then stands in for Django's
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
        checking = _stands_in_for_health_check(connection)
        try:
            row = self._read(connection, key)
        except (OperationalError, InterfaceError):
            if not checking:
                raise
            connection.close()  # broken since its last request: read on a new one
            row = self._read(connection, key)
        if row is None:
            return default
        return pickle.loads(base64.b64decode(row[0].encode()))  # noqa: S301 - our own rows

    def _read(self, connection, key):
        table = connection.ops.quote_name(self._table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT value FROM {table} WHERE cache_key = %s AND expires > %s",  # noqa: S608
                [key, now()],
            )
            return cursor.fetchone()

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        if connection.vendor != "postgresql":
            return super().set(key, value, timeout, version)
        sql, params = self._upsert(connection, key, value, timeout, version)
        with connection.cursor() as cursor:
            if random.randrange(self.cull_every) == 0:  # noqa: S311 - not for security
                table = connection.ops.quote_name(self._table)
                cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - our table name
                count = cursor.fetchone()[0]
                if count > self._max_entries:
                    self._cull(db, cursor, now().replace(microsecond=0), count)
            cursor.execute(sql, params)

    def set_statement(self, key, value, timeout=DEFAULT_TIMEOUT, version=None, *, using):
        """The statement (sql, params) that does ``set()``, for the caller to send on the
        connection `using`, inside its transaction and with its other statements; None
        unless this cache writes to that database and it is PostgreSQL."""
        if router.db_for_write(self.cache_model_class) != using:
            return None
        connection = connections[using]
        if connection.vendor != "postgresql":
            return None
        return self._upsert(connection, key, value, timeout, version)

    def _upsert(self, connection, key, value, timeout, version):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        # As Django's own set(): whole seconds, a far future for "never".
        if timeout is None:
            expires = datetime.max
        else:
            expires = datetime.fromtimestamp(timeout, tz=UTC if settings.USE_TZ else None)
        expires = connection.ops.adapt_datetimefield_value(expires.replace(microsecond=0))
        pickled = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
        table = connection.ops.quote_name(self._table)
        return (
            f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, %s, %s) "  # noqa: S608
            "ON CONFLICT (cache_key) DO UPDATE "
            "SET value = EXCLUDED.value, expires = EXCLUDED.expires",
            [key, pickled, expires],
        )


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
