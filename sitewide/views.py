"""Views of the site as a whole: health check, error pages and the benchmark ceiling.

None of them touches the database except ``healthz``, which exists to ask it.
"""

import sys

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseServerError
from django.template import loader
from django.views import defaults
from django.views.decorators.cache import never_cache

# Errors that mean "the database cannot be reached or gave up", not "the code is wrong":
# refused or lost connections, a server shutting down, deadlocks, statement timeouts.
DATABASE_OUTAGE_ERRORS = (OperationalError, InterfaceError)


@never_cache
def healthz(request):
    """200 only when the database answers a query; 503 otherwise. Plain text, no template."""
    try:
        connection.ensure_connection()
        if not connection.is_usable():  # Django's own check: a SELECT 1 on PostgreSQL
            connection.close()  # broken since an earlier request (a restart): connect anew
            connection.ensure_connection()
    except DatabaseError:
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


def database_unavailable(request=None):
    """The Dutch 503 page, rendered without the request so that nothing queries."""
    response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(settings.DATABASE_OUTAGE_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def bad_request(request, exception=None):
    """handler400: Django's 400 page, without its CSRF decorator, which reads the body
    again, and fails again, when the body was the bad part of the request."""
    return HttpResponseBadRequest(loader.render_to_string(defaults.ERROR_400_TEMPLATE_NAME))


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: a database outage raised outside a view still answers 503.

    DatabaseUnavailableMiddleware catches outages raised in views; this catches the
    rest (for example a session that cannot be saved after the view returned). Like
    bad_request, it reads nothing of the request.
    """
    if isinstance(sys.exc_info()[1], DATABASE_OUTAGE_ERRORS):
        return database_unavailable(request)
    return HttpResponseServerError(loader.render_to_string(template_name))


def ceiling(request):
    """The cheapest Django response through the full middleware stack (benchmarks only)."""
    return HttpResponse("ok\n", content_type="text/plain")
