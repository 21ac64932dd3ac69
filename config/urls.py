from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

from config import admin as site_admin
from config import views as site_views

# Error pages that need no database (templates/4xx.html, 500.html, 503.html).
handler500 = "config.views.server_error"

urlpatterns = [
    path("healthz", site_views.healthz, name="healthz"),  # answered by HealthCheckMiddleware
    path(
        "admin/r/<path:content_type_id>/<path:object_id>/",
        admin.site.admin_view(site_admin.view_on_site),
        name="view_on_site",  # replaces the admin's own: see site_admin.view_on_site
    ),
    path("admin/", admin.site.urls),
    # The language switch in every page's header posts here without a CSRF token: the
    # worst another site can do with it is switch a visitor's language (and send them to
    # a page of this site). So public pages set no cookie, and a page served from the
    # page cache needs no new token, a quarter of its cost.
    path("i18n/setlang/", csrf_exempt(set_language), name="set_language"),
    path("account/", include("django.contrib.auth.urls")),
    path("sprekers/", include("speakers.urls")),
    path("", include("registrations.urls")),
    path("", include("events.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

if settings.BENCHMARK_VIEWS:
    urlpatterns.append(path("_bench/ceiling", site_views.ceiling, name="bench_ceiling"))
