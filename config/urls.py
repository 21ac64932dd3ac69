from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

from sitewide import account_forms, login_throttle
from sitewide import admin as site_admin
from sitewide import views as site_views

# Error pages that need no database (templates/4xx.html, 500.html, 503.html).
handler400 = "sitewide.views.bad_request"
handler500 = "sitewide.views.server_error"

# Both login pages count their attempts and answer a refused one with 429
# (sitewide/login_throttle.py); the admin's is routed here, before the admin's own URLs.
admin.site.login_form = login_throttle.AdminLoginForm
throttled = login_throttle.answer_429_when_throttled

urlpatterns = [
    path("healthz", site_views.healthz, name="healthz"),  # answered by HealthCheckMiddleware
    path("admin/login/", throttled(admin.site.login)),
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
    path(
        "account/login/",
        throttled(auth_views.LoginView.as_view(authentication_form=login_throttle.LoginForm)),
        name="login",
    ),
    # Django marks its login, logout and reset pages never_cache, not these two.
    path(
        "account/password_change/",
        never_cache(auth_views.PasswordChangeView.as_view()),
        name="password_change",
    ),
    path(
        "account/password_change/done/",
        never_cache(auth_views.PasswordChangeDoneView.as_view()),
        name="password_change_done",
    ),
    path(
        "account/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=account_forms.PasswordResetForm),
        name="password_reset",
    ),
    path(
        "account/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(form_class=account_forms.SetPasswordForm),
        name="password_reset_confirm",
    ),
    path("account/", include("django.contrib.auth.urls")),
    path("sprekers/", include("speakers.urls")),
    path("", include("registrations.urls")),
    path("", include("events.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

if settings.BENCHMARK_VIEWS:
    urlpatterns.append(path("_bench/ceiling", site_views.ceiling, name="bench_ceiling"))
