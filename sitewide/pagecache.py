"""Whole-page cache for the public programme pages that never shows an old seat count.

Rendering an event's programme takes tens of milliseconds; most visitors are anonymous
and see the same page. ``PageCacheMiddleware`` keeps rendered pages in each app server's
memory, keyed by URL, language and a *generation* stamp kept in the shared cache
(database or Redis). Every committed write to the database, except to the session and
cache tables, replaces the stamp (``WriteWatcher``, installed on every connection by
``sitewide.apps``), so the next request on any app server renders afresh: a registration is
visible on the very next page view. The stamp is written when the write has committed; a
registration writes it in its own last round trip instead, where the stamp lives in the
same PostgreSQL database (``new_generation_statement``), so that it commits with the
seats. Pages also expire after ``PAGE_CACHE_SECONDS``, which bounds how late time-based
changes show (registration opening or closing).

Only anonymous requests are served from the cache: no session cookie and no messages
cookie. The CSRF tokens in a cached page (``{% csrf_token %}``, in a form of the page)
are replaced by a fresh one for each visitor, so no two visitors share a token; a cached
view must not put the token anywhere else. (The header's language switch needs none.)

A page that changes with every registration, such as the registration form with its
seats left, cannot wait for a new generation. ``ProgrammeCache`` keeps such a page
with named holes (``{% slot "name" %}`` in the template) that the view fills for every
response from a cheap query. It is keyed by a second stamp, the *programme* generation,
which writes to the seat tables (``PAGE_CACHE_SEAT_TABLES``: registrations and their
choices) leave alone: everything else in the page stays as rendered until the
programme itself changes.
"""

import logging
import re
import threading
import time
import uuid
from collections import Counter, OrderedDict
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe

logger = logging.getLogger(__name__)

GENERATION_KEY = "pagecache:generation"
PROGRAMME_GENERATION_KEY = "pagecache:programme"
WRITE = re.compile(
    r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+"?([\w.]+)', re.IGNORECASE
)
CSRF_INPUT = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')
SLOT_NAME = re.compile(r"[\w:-]+")
SLOT = re.compile(f"<!--slot:({SLOT_NAME.pattern})-->")


def current_generation(key=GENERATION_KEY):
    generation = cache.get(key)
    if generation is None:
        cache.add(key, uuid.uuid4().hex, timeout=None)
        generation = cache.get(key)
    return generation


def _renew(keys):
    try:
        for key in keys:
            cache.set(key, uuid.uuid4().hex, timeout=None)
    except Exception as error:  # noqa: BLE001 - any cache fault: the write has committed
        # Pages then live until PAGE_CACHE_SECONDS; the write itself has committed.
        logger.warning("Could not invalidate the page cache: %s", type(error).__name__)


def new_generation():
    """Invalidate every cached page on every app server, but for the slotted ones."""
    _renew([GENERATION_KEY])


def new_programme_generation():
    """Invalidate every cached page on every app server."""
    _renew([GENERATION_KEY, PROGRAMME_GENERATION_KEY])


def _renewed_in_transaction():
    """Marks, among a transaction's on-commit callbacks, that it renews the page
    generation itself (``new_generation_statement``)."""


def new_generation_statement(using="default"):
    """The statement (sql, params) that renews the page generation as part of the current
    transaction on `using`: for its caller to send with its own last statements, so that
    the new generation commits with the seats it stands for, without a write of its own
    after the commit. Seat writes of this transaction then renew nothing more on commit.

    None, and nothing changes, unless pages are cached, the caller's transaction is the
    outermost one, and the cache is the database cache on that database
    (``sitewide.cache``); the caller must send the statement before the transaction ends.
    """
    connection = connections[using]
    statement = getattr(cache, "set_statement", None)
    # Only in an outermost transaction: the stamp's row is shared by every event, and a
    # caller that goes on (a series registration locks its next event) would hold it
    # meanwhile, waiting for a registration that waits for the stamp: a deadlock.
    if not settings.PAGE_CACHE_SECONDS or len(connection.atomic_blocks) != 1 or statement is None:
        return None
    sql_and_params = statement(GENERATION_KEY, uuid.uuid4().hex, timeout=None, using=using)
    if sql_and_params is not None:
        transaction.on_commit(_renewed_in_transaction, using=using)
    return sql_and_params


def ignored_tables():
    """Tables whose writes change no page: sessions, database caches and
    PAGE_CACHE_IGNORED_TABLES."""
    from django.contrib.sessions.models import Session

    tables = {Session._meta.db_table, *getattr(settings, "PAGE_CACHE_IGNORED_TABLES", [])}
    for config in settings.CACHES.values():
        if issubclass(import_string(config["BACKEND"]), DatabaseCache):
            tables.add(config["LOCATION"])
    return tables


class WriteWatcher:
    """A database execute wrapper: a new generation after each committed write.

    Writes to the seat tables renew the page generation; any other write also the
    programme generation.
    """

    def __init__(self):
        self.ignored = ignored_tables()
        self.seat_tables = set(getattr(settings, "PAGE_CACHE_SEAT_TABLES", []))

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if settings.PAGE_CACHE_SECONDS and isinstance(sql, str) and sql[:1] in "IUDTiudt":
            match = WRITE.match(sql)
            table = match.group(1).split(".")[-1] if match else None
            if table and table not in self.ignored:
                self.note_write(context["connection"], programme=table not in self.seat_tables)
        return result

    @staticmethod
    def note_write(connection, *, programme=True):
        renew = new_programme_generation if programme else new_generation
        if not connection.in_atomic_block:
            renew()  # Autocommit: the write is already committed.
            return
        pending = [entry[1] for entry in getattr(connection, "run_on_commit", [])]
        if new_programme_generation in pending or renew in pending:
            return
        if not programme and _renewed_in_transaction in pending:
            return
        transaction.on_commit(renew, using=connection.alias)


def install_write_watcher(sender, connection, **kwargs):
    """connection_created receiver (see sitewide.apps)."""
    if not any(isinstance(wrapper, WriteWatcher) for wrapper in connection.execute_wrappers):
        # First in the list: execute_wrapper() context managers pop from the end.
        connection.execute_wrappers.insert(0, WriteWatcher())


def page_cached(view):
    """Marks a public view whose pages PageCacheMiddleware may keep for anonymous visitors:
    the same for everyone, no personal data, no form but the header's and CSRF tokens."""
    view.page_cached = True
    return view


class PageCacheMiddleware:
    """Serves the views marked ``@page_cached`` from memory (see the module docstring).

    Goes right after SecurityHeadersMiddleware, before the session, locale, CSRF,
    authentication and message middleware. A page kept whole is answered before those
    run, with the headers they had added to it when it was rendered (its languages in
    ``Vary`` and ``Content-Language``, ``X-Frame-Options``): for an anonymous visitor they
    would add nothing else, and they took more time than the rest of the answer. A page
    with a CSRF token is answered in ``process_view``, after them, to get the visitor's
    own token and cookie.
    """

    max_pages = 200

    def __init__(self, get_response):
        self.get_response = get_response
        self.pages = OrderedDict()
        self.paths = Counter()  # the paths of the kept pages: others skip the early look
        self.lock = threading.Lock()

    def __call__(self, request):
        response = self.serve_early(request)
        if response is not None:
            return response
        response = self.get_response(request)
        key = getattr(request, "_page_cache_key", None)
        if key is not None and self.can_store(request, response):
            self.store(key, response)
            response["X-Page-Cache"] = "miss"
        return response

    def serve_early(self, request):
        """The kept page for this request if it is kept whole, else None."""
        if not (anonymous_get(request) and self.paths[request.get_full_path()]):
            return None
        try:
            generation = current_generation()
        except Exception:  # noqa: BLE001 - any cache fault: render instead
            return None  # The view renders (or answers 503).
        request._page_cache_generation = generation  # for process_view on a miss
        # The language as LocaleMiddleware will set it (no language prefixes in the URLs).
        language = translation.get_language_from_request(request)
        kept = self.kept(page_key(request, generation, language))
        if kept is None or kept.page.names:
            return None
        body = kept.page.fill({})
        response = HttpResponse(body, headers=kept.headers)
        response["Content-Length"] = str(len(body))
        response["X-Page-Cache"] = "hit"
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not self.can_serve(request):
            return None
        generation = getattr(request, "_page_cache_generation", None)
        if generation is None:
            try:
                generation = current_generation()
            except Exception:  # noqa: BLE001 - any cache fault: render instead
                # The cache is an optimisation: without it the view renders (or answers 503).
                return None
        key = page_key(request, generation)
        kept = self.kept(key)
        if kept is not None:
            values = {"csrf": get_token(request)} if "csrf" in kept.page.names else {}
            response = HttpResponse(
                kept.page.fill(values), content_type=kept.headers["Content-Type"]
            )
            response["X-Page-Cache"] = "hit"
            return response
        request._page_cache_key = key
        return None

    def kept(self, key):
        """The KeptPage under `key` if it has not expired, else None."""
        with self.lock:
            kept = self.pages.get(key)
        if kept is None or kept.expires <= time.monotonic():
            return None
        return kept

    def can_serve(self, request):
        return (
            anonymous_get(request)
            and request.resolver_match is not None
            and getattr(request.resolver_match.func, "page_cached", False)
        )

    def can_store(self, request, response):
        session = getattr(request, "session", None)
        return (
            response.status_code == 200
            and not response.streaming
            and response.get("Content-Type", "").startswith("text/html")
            and not response.has_header("Cache-Control")
            and set(response.cookies) <= {settings.CSRF_COOKIE_NAME}
            # The request had no session cookie: an unchanged session is empty, and the
            # page cannot depend on it (the header only asks whether someone is logged in).
            and not (session is not None and session.modified)
        )

    def store(self, key, response):
        # Kept as the text around the CSRF tokens, filled with a fresh token per visitor.
        page = SlottedPage(response.content.decode(response.charset), response.charset)
        # The headers the middleware inside this one added, for answering early; the
        # cookie (a CSRF token's) is never replayed, and the length is the body's.
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in {"content-length", "x-page-cache"}
        }
        expires = time.monotonic() + settings.PAGE_CACHE_SECONDS
        with self.lock:
            # Pages of older generations are never read again: drop them.
            for old in [k for k in self.pages if k[-1] != key[-1]]:
                self._drop(old)
            if key in self.pages:
                self._drop(key)
            self.pages[key] = KeptPage(expires, page, headers)
            self.paths[key[2]] += 1
            while len(self.pages) > self.max_pages:
                self._drop(next(iter(self.pages)))

    def _drop(self, key):
        del self.pages[key]
        self.paths[key[2]] -= 1
        if not self.paths[key[2]]:
            del self.paths[key[2]]


class KeptPage(NamedTuple):
    expires: float  # time.monotonic()
    page: "SlottedPage"
    headers: dict  # as the middleware inside PageCacheMiddleware left them


def anonymous_get(request):
    """A GET the page cache may answer: on, and nothing in it depends on the visitor."""
    return settings.PAGE_CACHE_SECONDS > 0 and request.method == "GET" and anonymous(request)


def page_key(request, generation, language=None):
    """What a kept page depends on for an anonymous visitor: URL, language, generation."""
    return (
        request.get_host(),
        request.is_secure(),
        request.get_full_path(),
        getattr(request, "LANGUAGE_CODE", "") if language is None else language,
        generation,
    )


def anonymous(request):
    """True when the page cannot depend on who asks: no session and no messages."""
    return settings.SESSION_COOKIE_NAME not in request.COOKIES and "messages" not in request.COOKIES


def slot(name):
    """The mark of a named slot in a page (``SlottedPage``): ``{% slot "name" %}`` in a
    template (``page_slots`` tags), or this in Python."""
    if not SLOT_NAME.fullmatch(name):
        raise ValueError(f"Slot names are letters, digits, '_', ':' and '-': {name!r}")
    return mark_safe(f"<!--slot:{name}-->")  # noqa: S308 - a checked name only


class SlottedPage:
    """A rendered page as fixed text around named slots, filled in for each response.

    The template marks a slot with ``{% slot "name" %}`` (see ``slot``); the CSRF tokens of
    its forms become the slot ``csrf``. The fixed text is kept encoded: encoding a whole page for
    every response took as long as the rest of serving it from the cache.
    """

    def __init__(self, html, charset="utf-8"):
        html = CSRF_INPUT.sub(rf"\g<1>{slot('csrf')}\g<2>", html)
        pieces = SLOT.split(html)
        self.charset = charset
        self.texts = [text.encode(charset) for text in pieces[0::2]]
        self.names = pieces[1::2]

    def fill(self, values):
        """The page, encoded, with each slot replaced by ``values[name]``, escaped unless
        safe.

        A slot without a value stays as it was (a comment): pages kept whole by the
        middleware have only the ``csrf`` slot.
        """
        if not self.names:
            return self.texts[0]
        parts = [self.texts[0]]
        for name, text in zip(self.names, self.texts[1:], strict=True):
            value = conditional_escape(values[name]) if name in values else slot(name)
            parts.append(value.encode(self.charset))
            parts.append(text)
        return b"".join(parts)


class ProgrammeCache:
    """Values in this process's memory that hold until the programme changes: pages with
    slots, and the objects a busy view would otherwise query for every request.

    Keys end with the programme generation (``generation()``); a value lives at most
    PAGE_CACHE_SECONDS, or until its own deadline. Values are shared by the threads of
    the process: callers must not change them.
    """

    max_entries = 200

    def __init__(self):
        self.entries = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def generation():
        """The programme generation, or None when nothing may be kept."""
        if settings.PAGE_CACHE_SECONDS <= 0:
            return None
        try:
            return current_generation(PROGRAMME_GENERATION_KEY)
        except Exception:  # noqa: BLE001 - any cache fault: query instead
            return None  # The cache is an optimisation: without it the view queries.

    @staticmethod
    def page_key(request, generation):
        """The key of the page for an anonymous GET, or None when it may not be kept."""
        if generation is None or request.method != "GET" or not anonymous(request):
            return None
        return page_key(request, generation)

    def get(self, key):
        """The value stored under `key`, or None."""
        if key is None:
            return None
        with self.lock:
            entry = self.entries.get(key)
        if entry is None or entry[0] <= time.time():
            return None
        return entry[1]

    def put(self, key, value, *, until=None):
        """Keep `value` until PAGE_CACHE_SECONDS have passed, or `until` (a datetime),
        whichever comes first."""
        if key is None:
            return
        expires = time.time() + settings.PAGE_CACHE_SECONDS
        if until is not None:
            expires = min(expires, until.timestamp())
        with self.lock:
            for old in [k for k in self.entries if k[-1] != key[-1]]:
                del self.entries[old]
            self.entries[key] = (expires, value)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
