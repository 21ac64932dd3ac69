"""A per-address rate limit counted in the cache, so that all app servers share the count.

``"20/10m"`` allows 20 attempts per address in ten minutes from its first attempt.
Addresses are stored only as a keyed hash, and only for the length of one window.
"""

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
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def seconds_to_wait(request, scope, rate):
    """Count one attempt; over the limit, return the seconds until the window ends.

    The window opens at an address's first attempt and lasts the whole period. The count
    is read and written back (portable across cache backends, one round trip each), so
    attempts sent at the very same moment may be counted as one: a limit for abuse, not
    an exact quota.
    """
    limit = parse_rate(rate)
    if limit is None:
        return None
    attempts, period = limit
    now = time.time()
    who = salted_hmac("config.ratelimit", client_address(request)).hexdigest()[:32]
    key = f"ratelimit:{scope}:{who}"
    started, count = cache.get(key) or (now, 0)
    if started + period <= now:
        started, count = now, 0
    count += 1
    remaining = started + period - now
    cache.set(key, (started, count), timeout=math.ceil(remaining))
    if count <= attempts:
        return None
    return max(1, math.ceil(remaining))


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
