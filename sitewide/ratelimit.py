"""Rate limits counted in the database, so that all app servers share the count.

``"20/10m"`` allows 20 attempts per address (or other identity, such as the account name
of a login) in ten minutes from its first attempt. Identities are stored only as a keyed
hash (``RateWindow``), and only for the length of one window.

Every post of a registration form is counted, so counting is one statement
(``_count``): an upsert that opens a window, counts in it or replaces one that has ended,
and returns the count. The ORM cannot write such an increment, so it is SQL, here only.
"""

import functools
import logging
import math
import random
import re
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import F
from django.shortcuts import render
from django.utils.crypto import salted_hmac

from .first_read import checked_read
from .models import RateWindow

logger = logging.getLogger(__name__)

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")


def parse_rate(rate):
    """``"20/10m"`` -> ``(20, 600)``; an empty value or ``"off"`` -> None (no limit)."""
    if not rate or rate.strip().lower() in {"off", "none", "0"}:
        return None
    match = RATE.fullmatch(rate)
    if not match:
        raise ImproperlyConfigured(
            f"Rate {rate!r} is not like '20/10m' (attempts / period in s, m, h or d)."
        )
    attempts, number, unit = match.groups()
    return int(attempts), int(number or 1) * UNITS[unit]


def client_address(request):
    """The visitor's address: REMOTE_ADDR, or behind N trusted proxies (settings.
    TRUSTED_PROXY_COUNT) the address the outermost of them saw in X-Forwarded-For.

    Entries left of that one are written by the client and can be forged.
    """
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", None) or 0
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")


# Windows that have ended are deleted about once in this many counts.
CULL_EVERY = 50


def hit(scope, identity, rate):
    """Count one attempt of `identity` in `scope`; over the limit of `rate`, return the
    seconds until its window ends (else None).

    The window opens at the identity's first attempt and lasts the whole period. Attempts
    sent at the very same moment are all counted (one atomic statement each).
    """
    limit = parse_rate(rate)
    if limit is None:
        return None
    allowed, period = limit
    now = time.time()
    ends, attempts = _count(_key(scope, identity), int(now), period)
    if random.randrange(CULL_EVERY) == 0:  # noqa: S311 - not for security
        RateWindow.objects.filter(ends__lte=int(now)).delete()
    if attempts <= allowed:
        return None
    return max(1, math.ceil(ends - now))


def give_back(scope, identity):
    """Uncount an attempt that `hit` counted (one that turned out fine). Nothing when its
    window has ended meanwhile: the next attempt opens a new one."""
    RateWindow.objects.filter(key=_key(scope, identity), ends__gt=int(time.time())).update(
        attempts=F("attempts") - 1
    )


def _count(key, now, period):
    """(end, attempts) of `key`'s window after counting one attempt at `now`."""
    using = router.db_for_write(RateWindow)

    def count():
        with connections[using].cursor() as cursor:
            cursor.execute(_count_sql(using), {"key": key, "now": now, "ends": now + period})
            return cursor.fetchone()

    # A post's first query: it stands in for the connection's health check.
    return checked_read(count, using=using)


@functools.cache
def _count_sql(using):
    # PostgreSQL, and SQLite from 3.35 (upsert with RETURNING).
    quote = connections[using].ops.quote_name
    table = quote(RateWindow._meta.db_table)
    key, ends, attempts = (
        quote(RateWindow._meta.get_field(name).column) for name in ("key", "ends", "attempts")
    )
    live = f"{table}.{ends} > %(now)s"
    return (
        f"INSERT INTO {table} ({key}, {ends}, {attempts}) "  # noqa: S608 - names only
        "VALUES (%(key)s, %(ends)s, 1) "
        f"ON CONFLICT ({key}) DO UPDATE SET "
        f"{attempts} = CASE WHEN {live} THEN {table}.{attempts} + 1 ELSE 1 END, "
        f"{ends} = CASE WHEN {live} THEN {table}.{ends} ELSE %(ends)s END "
        f"RETURNING {ends}, {attempts}"
    )


def _key(scope, identity):
    return f"{scope}:{salted_hmac('sitewide.ratelimit', identity).hexdigest()[:32]}"


def seconds_to_wait(request, scope, rate):
    """``hit`` for the request's client address."""
    return hit(scope, client_address(request), rate)


def rate_limited(scope, *, setting, methods=("POST",)):
    """Answer 429 with a Dutch page once an address exceeds ``settings.<setting>``."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method in methods:
                wait = seconds_to_wait(request, scope, getattr(settings, setting, ""))
                if wait is not None:
                    logger.warning("Rate limit reached for %s", scope)
                    response = render(
                        request,
                        "429.html",
                        {"minutes": max(1, math.ceil(wait / 60))},
                        status=429,
                    )
                    response["Retry-After"] = str(wait)
                    response["Cache-Control"] = "no-store"
                    return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
