from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from config import views as site_views

# Error pages that need no database (templates/4xx.html, 500.html, 503.html).
handler500 = "config.views.server_error"

urlpatterns = [
    path("healthz", site_views.healthz, name="healthz"),  # answered by HealthCheckMiddleware
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", include("django.contrib.auth.urls")),
    path("sprekers/", include("speakers.urls")),
    path("", include("registrations.urls")),
    path("", include("events.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

if settings.BENCHMARK_VIEWS:
    urlpatterns.append(path("_bench/ceiling", site_views.ceiling, name="bench_ceiling"))
