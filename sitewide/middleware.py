"""Site-wide middleware: health check, security headers, form encodings, query strings no
database can compare, and the database-outage page."""

import codecs
import logging

from django.conf import settings
from django.utils.log import log_response

from . import views

logger = logging.getLogger(__name__)


class HealthCheckMiddleware:
    """Answers ``/healthz`` before host validation and the HTTPS redirect.

    Load balancers probe each app server by its address over plain HTTP, so the
    probe may carry neither an allowed host name nor ``X-Forwarded-Proto: https``.
    Goes first in MIDDLEWARE.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/healthz":
            return views.healthz(request)
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Adds the headers SecurityMiddleware does not set: CSP and Permissions-Policy.

    The site's pages load scripts and styles from their own origin only (no inline
    code; JSON-LD is data and not subject to script-src), so the policy is strict.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class FormEncodingMiddleware:
    """Answers a form post in another encoding than UTF-8 with the 400 page.

    Django refuses to read such a body (``BadRequest``) each time anything reads
    ``request.POST``, the CSRF check and the error pages included, so without this the
    request ends in the server's own 500 with a long chain of tracebacks. Browsers send
    no charset with a form, or UTF-8; ASCII is a subset of it. Goes before the CSRF
    middleware.
    """

    form_types = {"application/x-www-form-urlencoded", "multipart/form-data"}
    accepted = {"utf-8", "ascii"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        charset = request.content_params.get("charset")
        if (
            charset is None
            or request.method != "POST"
            or request.content_type not in self.form_types
        ):
            return self.get_response(request)
        try:
            codec = codecs.lookup(charset).name
        except LookupError:
            codec = None
        if codec in self.accepted:
            request.encoding = "utf-8"  # Django accepts only this spelling of its aliases.
            return self.get_response(request)
        response = views.bad_request(request)
        # One line, and marked as logged: Django would log the 400 again.
        log_response(
            "Form post in charset %s refused: %s",
            charset[:40],
            request.path,
            response=response,
            request=request,
            logger=logger,
        )
        return response


class NulCharacterMiddleware:
    """Answers 400 to a query string with a NUL character, which no page ever sends, and
    drops cookies with one.

    PostgreSQL cannot store or compare text containing one, so a NUL in an admin search
    or list filter, or in the session cookie (``"\\000"`` in a quoted cookie value is one),
    would otherwise end in a database error (a 500). Such a cookie is dropped rather than
    refused, so a visitor whose browser holds one still gets every page (with a new session).
    Form fields refuse a NUL themselves (Django's ``ProhibitNullCharactersValidator``, or
    ``PlainTextField`` drops it). Goes before the session and page-cache middleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in "".join([key, *values]) for key, values in request.GET.lists()):
            return views.bad_request(request)
        for name, value in list(request.COOKIES.items()):
            if "\x00" in name or "\x00" in value:
                del request.COOKIES[name]
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Turns a lost or refused database connection in a view into a Dutch 503 page.

    The registration being written is rolled back with its transaction; Django drops
    the broken connection at the end of the request and the next request reconnects
    (CONN_HEALTH_CHECKS), so the site recovers by itself once the database is back.
    Goes last in MIDDLEWARE.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, views.DATABASE_OUTAGE_ERRORS):
            return None
        logger.warning("Database unavailable (%s): answered 503", type(exception).__name__)
        return views.database_unavailable(request)
