"""Rate limits counted in the cache, so that all app servers share the count.

``"20/10m"`` allows 20 attempts per address (or other identity, such as the account name
of a login) in ten minutes from its first attempt. Identities are stored only as a keyed
hash, and only for the length of one window.
"""

import contextlib
import functools
import logging
import math
import re
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render
from django.utils.crypto import salted_hmac

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


# A window is one cache value: its start (in whole seconds) times SLOT plus the attempts
# counted in it, so that one atomic increment both counts an attempt and dates the window.
SLOT = 10**7


def hit(scope, identity, rate):
    """Count one attempt of `identity` in `scope`; over the limit of `rate`, return the
    seconds until its window ends (else None).

    The window opens at the identity's first attempt and lasts the whole period. The
    count is an atomic increment in the cache (``add`` opens a window, ``incr`` counts in
    it), so attempts sent at the very same moment are all counted.
    """
    limit = parse_rate(rate)
    if limit is None:
        return None
    attempts, period = limit
    key = _key(scope, identity)
    while True:
        try:
            value = cache.incr(key)
        except ValueError:  # no window open (or it just ended): open one
            value = _opening()
            if cache.add(key, value, timeout=period):
                break
            continue
        if _window(value)[0] + period > time.time():
            break
        # A value that outlived its window. Django's RedisCache.incr checks that the key
        # exists, then increments: when the key expires in between, Redis makes it anew,
        # holding only the count (a start of 0) and without an expiry, and this identity
        # would be throttled for good. Never trusted: a new window replaces it (two requests
        # that find it at the same moment may count one attempt less, once).
        value = _opening()
        cache.set(key, value, timeout=period)
        break
    started, count = _window(value)
    if count <= attempts:
        return None
    return max(1, math.ceil(started + period - time.time()))


def _opening():
    """The value of a window that opens now with one attempt."""
    return int(time.time()) * SLOT + 1


def _window(value):
    """(start, count) of a window's value; a count below zero (a ``give_back`` after its
    window was replaced) stays negative instead of borrowing from the start."""
    started = (value + SLOT // 2) // SLOT
    return started, value - started * SLOT


def give_back(scope, identity):
    """Uncount an attempt that `hit` counted (one that turned out fine)."""
    with contextlib.suppress(ValueError):  # its window has ended meanwhile
        cache.decr(_key(scope, identity))


def _key(scope, identity):
    # Not "ratelimit:", whose values were (start, count) pairs before counts were atomic.
    return f"ratecount:{scope}:{salted_hmac('sitewide.ratelimit', identity).hexdigest()[:32]}"


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
