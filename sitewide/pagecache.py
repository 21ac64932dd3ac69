"""Whole-page cache for the public programme pages, with the seats filled in per response.

Rendering an event's programme costs milliseconds that add up when registration opens, and
most visitors are anonymous and see the same page. A view marked ``@page_cached(scopes=...)``
is kept in each app server's memory, keyed by URL and language, together with the
*generations* of the scopes it shows (``"event:<slug>"``, ``"series:<slug>"``, ``"listing"``,
``"site"``). The generations live in the shared cache (database or Redis). The programme's
models renew their scopes when a change to them commits (``renew``, called by the receivers
in ``events.page_scopes``), so the next view on any app server renders afresh, while the pages
of other events stay kept.

What changes with every registration (seats left, "fully booked") is never part of a kept
page: the template marks it as a named slot (``{% slot %}``, ``slot()``) and the app that owns
it fills it per response (``fill_slots``, with fillers registered per prefix by
``register_slot_filler``). A registration therefore renews no page. Each app server asks
the shared cache for a page's generations at most every ``PAGE_CACHE_RECHECK_SECONDS`` (half a
second): a programme change shows that much later at most. Pages also expire after
``PAGE_CACHE_SECONDS``, or earlier at a moment the page names (``keep_until``), such as the
minute registration opens. A page that must be rendered anew is rendered once per app
server: other visitors asking for it meanwhile wait for that render (``one_render``).

Only anonymous requests are served from the cache: no session cookie and no messages
cookie. The CSRF tokens in a kept page (``{% csrf_token %}``, in a form of the page) are
replaced by a fresh one for each visitor, so no two visitors share a token; a kept page must
not put the token anywhere else. (The header's language switch needs none.)
"""

import contextlib
import logging
import re
import threading
import time
import uuid
from collections import Counter, OrderedDict
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

logger = logging.getLogger(__name__)

SCOPE_KEY_PREFIX = "pagecache:"
CSRF_INPUT = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')
SLOT_NAME = re.compile(r"[\w:-]+")
SLOT = re.compile(f"<!--slot:({SLOT_NAME.pattern})-->")


def generations(scopes):
    """The current generation of each scope, in the order given (one read of the cache)."""
    keys = [SCOPE_KEY_PREFIX + scope for scope in scopes]
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        for key in missing:
            cache.add(key, uuid.uuid4().hex, timeout=None)
        found.update(cache.get_many(missing))
    return tuple(found[key] for key in keys)


def renew(*scopes, using=DEFAULT_DB_ALIAS):
    """Give `scopes` a new generation when the current transaction commits (at once outside
    one): every kept page that shows them renders afresh on its next view. The renewals of
    one transaction are sent together."""
    if settings.PAGE_CACHE_SECONDS <= 0 or not scopes:
        return
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        _Renewal(scopes)()
        return
    for entry in connection.run_on_commit:
        if isinstance(entry[1], _Renewal):
            entry[1].scopes.update(scopes)
            return
    transaction.on_commit(_Renewal(scopes), using=using)


class _Renewal:
    """An on-commit callback renewing a transaction's scopes."""

    def __init__(self, scopes):
        self.scopes = set(scopes)

    def __call__(self):
        try:
            cache.set_many(
                {SCOPE_KEY_PREFIX + scope: uuid.uuid4().hex for scope in self.scopes},
                timeout=None,
            )
        except Exception as error:  # noqa: BLE001 - any cache fault: the change has committed
            # Pages then live until PAGE_CACHE_SECONDS; the change itself has committed.
            logger.warning("Could not renew kept pages: %s", type(error).__name__)


def page_cached(*, scopes):
    """Marks a public view whose pages PageCacheMiddleware may keep for anonymous visitors:
    the same for everyone, no personal data, no form but CSRF tokens.

    `scopes(**view_kwargs)` names what the page shows, e.g. ``("site", f"event:{slug}")``:
    the page is kept until one of them is renewed (``renew``).
    """

    def mark(view):
        view.page_scopes = scopes
        return fills_slots(view)

    return mark


def fills_slots(view):
    """Marks a view whose pages have slots (seats left) that PageCacheMiddleware fills in
    for each response, kept or not."""
    view.page_slots = True
    return view


def keep_until(request, moment):
    """The page being rendered for `request` changes by the clock at `moment` (a datetime,
    or None): a kept copy must not outlive it."""
    if moment is None:
        return
    current = getattr(request, "_page_cache_until", None)
    if current is None or moment < current:
        request._page_cache_until = moment


# One render at a time of what is kept under the same key, per app server process.
_RENDER_LOCKS = tuple(threading.RLock() for _ in range(64))
RENDER_WAIT_SECONDS = 5


@contextlib.contextmanager
def one_render(key):
    """Lets one thread of this process at a time render what is to be kept under `key`.

    When a kept page expires under load (registration opens, the programme changes),
    the threads asking for it wait for the first one's render and find it kept,
    instead of each rendering the same page. Keys share a lock by their hash (bounded
    memory); a thread waits RENDER_WAIT_SECONDS at most, then renders anyway.
    """
    if key is None:
        yield
        return
    lock = _RENDER_LOCKS[hash(key) % len(_RENDER_LOCKS)]
    acquired = lock.acquire(timeout=RENDER_WAIT_SECONDS)
    try:
        yield
    finally:
        if acquired:
            lock.release()


_slot_fillers = {}


def register_slot_filler(prefix, filler):
    """Slots named ``"<prefix>:..."`` are filled by ``filler(names)``, which returns
    {name: value} for the names given (see ``fill_slots``). Registered by the app that owns
    what the slots show, in its ``AppConfig.ready()``."""
    _slot_fillers[prefix] = filler


def fill_slots(request, names):
    """The value of each slot in `names` for this response: this visitor's CSRF token, and
    what the registered fillers give (seats left, and so on)."""
    values = {}
    by_prefix = {}
    for name in names:
        if name == "csrf":
            values[name] = get_token(request)
        else:
            by_prefix.setdefault(name.partition(":")[0], []).append(name)
    for prefix, prefixed in by_prefix.items():
        filler = _slot_fillers.get(prefix)
        if filler is not None:
            values.update(filler(prefixed))
    return values


class PageCacheMiddleware:
    """Serves the views marked ``@page_cached`` from memory (see the module docstring), and
    fills in the slots of their pages, kept or not.

    Goes right after SecurityHeadersMiddleware, before the session, locale, CSRF,
    authentication and message middleware. A kept page without a CSRF token is answered
    before those run, with the headers they had added to it when it was rendered (its
    languages in ``Vary`` and ``Content-Language``, ``X-Frame-Options``): for an anonymous
    visitor they would add nothing else, and they took more time than the rest of the
    answer. A page with a CSRF token is answered in ``process_view``, after them, to get the
    visitor's own token and cookie.
    """

    max_pages = 200

    def __init__(self, get_response):
        self.get_response = get_response
        self.pages = OrderedDict()
        self.paths = Counter()  # the paths of the kept pages: others skip the early look
        self.checked = {}  # {scopes: (time.monotonic(), their generations)}
        self.lock = threading.Lock()

    def __call__(self, request):
        response = self.serve_early(request)
        if response is not None:
            return response
        with contextlib.ExitStack() as rendering:
            request._page_cache_rendering = rendering  # held from process_view to the store
            response = self.get_response(request)
            if getattr(request, "_page_slots", False) and self.is_page(response):
                page = SlottedPage(response.content.decode(response.charset), response.charset)
                pending = getattr(request, "_page_cache_pending", None)
                if pending is not None and self.can_store(request, response):
                    self.store(request, pending, page, response)
                    response["X-Page-Cache"] = "miss"
                if page.names:
                    response.content = page.fill(fill_slots(request, page.slots))
                    if response.has_header("Content-Length"):  # set inside, for the slots
                        response["Content-Length"] = str(len(response.content))
        return response

    def serve_early(self, request):
        """The kept page for this request if it needs no CSRF token, else None."""
        if not (anonymous_get(request) and self.paths[request.get_full_path()]):
            return None
        # The language as LocaleMiddleware will set it (no language prefixes in the URLs).
        language = translation.get_language_from_request(request)
        kept = self.kept(page_key(request, language))
        if kept is None or "csrf" in kept.page.names or not self.current(kept):
            return None
        with translation.override(language):
            body = kept.page.fill(fill_slots(request, kept.page.slots))
        response = HttpResponse(body, headers=kept.headers)
        response["Content-Length"] = str(len(body))
        response["X-Page-Cache"] = "hit"
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        request._page_slots = getattr(view_func, "page_slots", False)
        scopes = getattr(view_func, "page_scopes", None)
        if scopes is None or not anonymous_get(request):
            return None
        scopes = tuple(scopes(**view_kwargs))
        try:
            # Read before the view reads the programme: a change committed meanwhile
            # renews a generation newer than the one the page is kept with.
            current = generations(scopes)
        except Exception:  # noqa: BLE001 - any cache fault: render instead
            return None  # The cache is an optimisation: without it the view renders.
        key = page_key(request)
        response = self.kept_response(request, key, scopes, current)
        if response is None:  # __call__ holds the render lock until the page is kept
            request._page_cache_rendering.enter_context(one_render(key))
            # Kept by another thread while this one waited?
            response = self.kept_response(request, key, scopes, current)
        if response is not None:
            return response
        request._page_cache_pending = (key, scopes, current)
        return None

    def kept_response(self, request, key, scopes, current):
        """The page kept under `key` for these generations, filled in, or None."""
        kept = self.kept(key)
        if kept is None or kept.generations != current or kept.scopes != scopes:
            return None
        response = HttpResponse(
            kept.page.fill(fill_slots(request, kept.page.slots)),
            content_type=kept.headers["Content-Type"],
        )
        response["X-Page-Cache"] = "hit"
        return response

    def current(self, kept):
        """Whether none of the scopes `kept` shows has been renewed since it was kept (as
        read at most PAGE_CACHE_RECHECK_SECONDS ago)."""
        now = time.monotonic()
        checked = self.checked.get(kept.scopes)
        if checked is None or now - checked[0] >= settings.PAGE_CACHE_RECHECK_SECONDS:
            try:
                checked = (now, generations(kept.scopes))
            except Exception:  # noqa: BLE001 - any cache fault: render instead
                return False
            remember_check(self.checked, kept.scopes, checked)
        return checked[1] == kept.generations

    def kept(self, key):
        """The KeptPage under `key` if it has not expired, else None."""
        with self.lock:
            kept = self.pages.get(key)
        if kept is None or kept.expires <= time.time():
            return None
        return kept

    @staticmethod
    def is_page(response):
        """An HTML page, whatever its status: a form sent back with errors (400) shows its
        seats too."""
        return not response.streaming and response.get("Content-Type", "").startswith("text/html")

    def can_store(self, request, response):
        session = getattr(request, "session", None)
        return (
            response.status_code == 200
            and not response.has_header("Cache-Control")
            and set(response.cookies) <= {settings.CSRF_COOKIE_NAME}
            # The request had no session cookie: an unchanged session is empty, and the
            # page cannot depend on it (the header only asks whether someone is logged in).
            and not (session is not None and session.modified)
        )

    def store(self, request, pending, page, response):
        key, scopes, current = pending
        # The headers the middleware inside this one added, for answering early; the
        # cookie (a CSRF token's) is never replayed, and the length is the body's.
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in {"content-length", "x-page-cache"}
        }
        expires = time.time() + settings.PAGE_CACHE_SECONDS
        until = getattr(request, "_page_cache_until", None)
        if until is not None:
            expires = min(expires, until.timestamp())
        with self.lock:
            if key in self.pages:
                self._drop(key)
            self.pages[key] = KeptPage(expires, page, headers, scopes, current)
            self.paths[key[2]] += 1
            while len(self.pages) > self.max_pages:
                self._drop(next(iter(self.pages)))

    def _drop(self, key):
        del self.pages[key]
        self.paths[key[2]] -= 1
        if not self.paths[key[2]]:
            del self.paths[key[2]]


MAX_CHECKS = 1000


def remember_check(checked, scopes, value):
    """Keep when the generations of `scopes` were read. Bounded: a request for a page that
    does not exist (any slug) asks too. Single assignments: safe between threads."""
    if len(checked) >= MAX_CHECKS:
        checked.clear()
    checked[scopes] = value


class KeptPage(NamedTuple):
    expires: float  # time.time()
    page: "SlottedPage"
    headers: dict  # as the middleware inside PageCacheMiddleware left them
    scopes: tuple
    generations: tuple  # of the scopes, read before the page was rendered


def anonymous_get(request):
    """A GET the page cache may answer: on, and nothing in it depends on the visitor."""
    return settings.PAGE_CACHE_SECONDS > 0 and request.method == "GET" and anonymous(request)


def page_key(request, language=None):
    """What a kept page depends on for an anonymous visitor besides its scopes: URL and
    language."""
    return (
        request.get_host(),
        request.is_secure(),
        request.get_full_path(),
        getattr(request, "LANGUAGE_CODE", "") if language is None else language,
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
    its forms become the slot ``csrf``. The fixed text is kept encoded: encoding a whole page
    for every response took as long as the rest of serving it from the cache.
    """

    def __init__(self, html, charset="utf-8"):
        html = CSRF_INPUT.sub(rf"\g<1>{slot('csrf')}\g<2>", html)
        pieces = SLOT.split(html)
        self.charset = charset
        self.texts = [text.encode(charset) for text in pieces[0::2]]
        self.names = pieces[1::2]
        self.slots = tuple(dict.fromkeys(self.names))  # each once: a page may repeat a slot

    def fill(self, values):
        """The page, encoded, with each slot replaced by ``values[name]``, escaped unless
        safe. A slot without a value stays as it was (a comment)."""
        if not self.names:
            return self.texts[0]
        parts = [self.texts[0]]
        for name, text in zip(self.names, self.texts[1:], strict=True):
            value = conditional_escape(values[name]) if name in values else slot(name)
            parts.append(value.encode(self.charset))
            parts.append(text)
        return b"".join(parts)


class ProgrammeCache:
    """Values in this process's memory that hold until the scopes they show are renewed:
    pages with slots, and the objects a busy view would otherwise query for every request.

    Keys end with the generations of their scopes (``generations()``); a value lives at
    most PAGE_CACHE_SECONDS, or until its own deadline. Values are shared by the threads of
    the process: callers must not change them.
    """

    max_entries = 200

    def __init__(self):
        self.entries = OrderedDict()
        self.checked = {}  # {scopes: (time.monotonic(), their generations)}
        self.lock = threading.Lock()

    def generations(self, scopes):
        """The generations of `scopes` (as read at most PAGE_CACHE_RECHECK_SECONDS ago), or
        None when nothing may be kept."""
        if settings.PAGE_CACHE_SECONDS <= 0:
            return None
        scopes = tuple(scopes)
        now = time.monotonic()
        checked = self.checked.get(scopes)
        if checked is None or now - checked[0] >= settings.PAGE_CACHE_RECHECK_SECONDS:
            try:
                checked = (now, generations(scopes))
            except Exception:  # noqa: BLE001 - any cache fault: query instead
                return None  # The cache is an optimisation: without it the view queries.
            remember_check(self.checked, scopes, checked)
        return checked[1]

    @staticmethod
    def page_key(request, generation):
        """The key of the page for an anonymous GET, or None when it may not be kept."""
        if generation is None or request.method != "GET" or not anonymous(request):
            return None
        return (*page_key(request), generation)

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
            # Values kept under an older generation of the same thing are never read again.
            for old in [k for k in self.entries if k[:-1] == key[:-1]]:
                del self.entries[old]
            self.entries[key] = (expires, value)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
