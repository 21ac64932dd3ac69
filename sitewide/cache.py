"""The shared cache in the database, through the ORM: the page cache's generations, shared
by every app server without Redis.

Django's own ``DatabaseCache`` counts the whole table, then selects and updates (or inserts)
the row in a transaction of its own for every write, and its ``incr`` reads the value and
writes it back, so increments at the same moment are lost. This one keeps its rows in
``CacheEntry`` (created by the app's migration) and:

- writes with one upsert (``set``, ``set_many``), and culls the table about one write in
  ``cull_every``;
- reads only rows that have not expired (``get``, ``get_many``): one statement;
- counts atomically (``incr``, ``decr``): the new value is written only if the row still
  holds the value read (compare and set), and read again otherwise, with no transaction or
  lock held in between;
- ``add`` inserts (one statement for a new key), else replaces an expired row, and fails
  on a live one.

Such a read is often a request's first query: it then stands in for Django's health check
(``sitewide.first_read``).
"""

import base64
import contextlib
import pickle
import random
from datetime import UTC, datetime

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.db import IntegrityError, router, transaction
from django.utils.timezone import now

from .first_read import checked_read
from .models import CacheEntry

NEVER = datetime.max.replace(microsecond=0, tzinfo=UTC)


class DatabaseCache(BaseCache):
    """``CACHES`` backend; its ``LOCATION`` is not used (the table is ``CacheEntry``'s)."""

    cull_every = 50
    pickle_protocol = pickle.HIGHEST_PROTOCOL

    def __init__(self, location, params):
        super().__init__(params)

    # -------------------------------------------------------------------------- reading

    def get(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        rows = self._first_read([key])
        return _loads(rows[0][1]) if rows else default

    def get_many(self, keys, version=None):
        names = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not names:
            return {}
        return {names[name]: _loads(value) for name, value in self._first_read(names)}

    def has_key(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return bool(self._first_read([key]))

    def _first_read(self, keys):
        """``_read``, which on a kept connection stands in for the health check."""
        return checked_read(lambda: self._read(keys), using=router.db_for_read(CacheEntry))

    def _read(self, keys):
        """The rows (key, value) of `keys` (made keys) that have not expired."""
        return list(
            CacheEntry.objects.filter(key__in=keys, expires__gt=now()).values_list("key", "value")
        )

    # -------------------------------------------------------------------------- writing

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self.set_many({key: value}, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        expires = self._expiry(timeout)
        entries = [
            CacheEntry(
                key=self.make_and_validate_key(key, version=version),
                value=_dumps(value, self.pickle_protocol),
                expires=expires,
            )
            for key, value in data.items()
        ]
        if entries:
            self._cull_now_and_then()
            CacheEntry.objects.bulk_create(
                entries,
                update_conflicts=True,
                unique_fields=["key"],
                update_fields=["value", "expires"],
            )
        return []

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        stored = _dumps(value, self.pickle_protocol)
        expires = self._expiry(timeout)
        using = router.db_for_write(CacheEntry)
        try:
            with _savepoint_in_a_transaction(using):
                CacheEntry.objects.using(using).create(key=key, value=stored, expires=expires)
        except IntegrityError:  # a row: replaced only if it has expired
            replaced = CacheEntry.objects.using(using).filter(key=key, expires__lte=now())
            return bool(replaced.update(value=stored, expires=expires))
        return True

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        live = CacheEntry.objects.filter(key=key, expires__gt=now())
        return bool(live.update(expires=self._expiry(timeout)))

    def incr(self, key, delta=1, version=None):
        """Add `delta` to the value and return it, atomically; ValueError if the key is
        missing or expired (as Django's)."""
        key = self.make_and_validate_key(key, version=version)
        rows = self._first_read([key])
        while rows:
            stored = rows[0][1]
            value = _loads(stored) + delta
            # Compare and set: nothing written when another write came between (or it expired).
            if CacheEntry.objects.filter(key=key, value=stored, expires__gt=now()).update(
                value=_dumps(value, self.pickle_protocol)
            ):
                return value
            rows = self._read([key])
        raise ValueError(f"Key '{key}' not found")

    def delete(self, key, version=None):
        return bool(self.delete_many([key], version))

    def delete_many(self, keys, version=None):
        names = [self.make_and_validate_key(key, version=version) for key in keys]
        deleted, _by_model = CacheEntry.objects.filter(key__in=names).delete()
        return deleted

    def clear(self):
        CacheEntry.objects.all().delete()

    def _expiry(self, timeout):
        # As Django's database cache: whole seconds, a far future for "never".
        timeout = self.get_backend_timeout(timeout)
        if timeout is None:
            return NEVER
        return datetime.fromtimestamp(int(timeout), tz=UTC)

    def _cull_now_and_then(self):
        if random.randrange(self.cull_every) != 0:  # noqa: S311 - not for security
            return
        CacheEntry.objects.filter(expires__lte=now()).delete()
        count = CacheEntry.objects.count()
        if count <= self._max_entries:
            return
        if not self._cull_frequency:  # as Django's: 0 empties the cache
            self.clear()
            return
        # As Django's: the keys before the (count / cull_frequency)th in key order go.
        keys = CacheEntry.objects.order_by("key").values_list("key", flat=True)
        cutoff = keys[count // self._cull_frequency : count // self._cull_frequency + 1].first()
        if cutoff is not None:
            CacheEntry.objects.filter(key__lt=cutoff).delete()


def _savepoint_in_a_transaction(using):
    """Outside a transaction an INSERT is one statement on its own, and a refused one harms
    nothing; inside one, a savepoint keeps it from breaking the transaction."""
    if transaction.get_connection(using).in_atomic_block:
        return transaction.atomic(using=using)
    return contextlib.nullcontext()


def _dumps(value, protocol):
    """A value as Django's database cache stores it: pickled, in base64."""
    return base64.b64encode(pickle.dumps(value, protocol)).decode("latin1")


def _loads(stored):
    return pickle.loads(base64.b64decode(stored.encode()))  # noqa: S301 - our own rows
