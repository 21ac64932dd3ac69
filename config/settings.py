"""Settings for the programme site, driven by environment variables.

Every value that differs between a laptop and production is read from a
``DJANGO_*`` environment variable (see ``.env.example``). Without any, the site
runs on SQLite with debug tooling suitable for a local demo.
"""

import json
import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


TESTING = "pytest" in sys.modules
DEBUG = env_bool("DJANGO_DEBUG", default=False)

# Commands that only read and write the project's source, never serve or touch data: they
# run with the development defaults, so that `manage.py makemigrations --check` works in a
# fresh clone without production settings.
SOURCE_COMMANDS = {"makemigrations", "makemessages"}
SOURCE_COMMAND = (
    Path(sys.argv[0]).name == "manage.py" and len(sys.argv) > 1 and sys.argv[1] in SOURCE_COMMANDS
)

# Production: debug off outside the test suite. Refuse to start on a guessed default.
PRODUCTION = not (DEBUG or TESTING or SOURCE_COMMAND)
REQUIRED_IN_PRODUCTION = [
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "DJANGO_SITE_URL",
]
if PRODUCTION:
    missing = [name for name in REQUIRED_IN_PRODUCTION if not os.environ.get(name, "").strip()]
    if missing:
        raise ImproperlyConfigured(
            f"{', '.join(missing)} must be set when DJANGO_DEBUG is off (production)."
        )

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    # Only ever used for local development and the test suite.
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")


def proxy_ssl_header(value):
    """``"X-Forwarded-Proto: https"`` -> ``("HTTP_X_FORWARDED_PROTO", "https")``."""
    if not value.strip():
        return None
    name, _sep, expected = value.partition(":")
    return ("HTTP_" + name.strip().upper().replace("-", "_"), expected.strip() or "https")


# HTTPS: on in production, where a proxy or load balancer terminates TLS and must say so
# in a header it always sets (DJANGO_SECURE_PROXY_SSL_HEADER), or the redirect would loop.
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", ""))
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(
    os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000" if PRODUCTION else "0")
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind N proxies, the visitor's address is the N-th from the right in X-Forwarded-For
# (used by the rate limits); 0 uses the connection's address. Unset (None) counts as 0,
# and `check --deploy` warns: behind a proxy every visitor would share one count.
TRUSTED_PROXY_COUNT = (
    int(os.environ["DJANGO_TRUSTED_PROXY_COUNT"])
    if os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "").strip()
    else None
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "speakers",
    "events",
    "registrations",
    "sitewide",
]

MIDDLEWARE = [
    "sitewide.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "sitewide.middleware.SecurityHeadersMiddleware",
    "sitewide.middleware.NulCharacterMiddleware",
    # Answers pages kept whole before the middleware below runs (sitewide/pagecache.py).
    "sitewide.pagecache.PageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads request.POST: the CSRF check, the views, the error pages.
    "sitewide.middleware.FormEncodingMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "sitewide.middleware.DatabaseUnavailableMiddleware",
]

# Scripts, styles, fonts and images from this site only: no inline code anywhere.
# Uploads served from another origin (DJANGO_MEDIA_URL) are added to img-src.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:" + "".join(f" {origin}" for origin in env_list("DJANGO_CSP_IMG_SRC")),
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), geolocation=(), microphone=(), payment=(), usb=()"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections in production, checked before each request reuses them,
        # so that a restarted PostgreSQL is reconnected to without restarting the app.
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "600" if PRODUCTION else "0")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Fail fast (and answer 503) when the server cannot be reached, instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("DJANGO_DB_CONNECT_TIMEOUT", "5"))
    )
    # Lets the seat module prepare its reads (registrations/seat_store.py); Django's own
    # queries are never prepared (client-side binding). "off" for a connection pooler
    # that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode).
    if os.environ.get("DJANGO_DB_PREPARED_STATEMENTS", "on").strip().lower() != "off":
        DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
elif PRODUCTION:
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Take the write lock when a transaction starts, so that seat counts read inside
    # a registration transaction cannot change before its write (see registrations/seats.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Amsterdam"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = os.environ.get("DJANGO_MEDIA_URL", "media/")
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))

STORAGES = {
    # Uploads go through Django's storage API: with several app servers, MEDIA_ROOT is a
    # shared volume, or DJANGO_FILE_STORAGE names an object-storage backend.
    "default": {
        "BACKEND": os.environ.get(
            "DJANGO_FILE_STORAGE", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": json.loads(os.environ.get("DJANGO_FILE_STORAGE_OPTIONS") or "{}"),
    },
    "staticfiles": {
        # Hashed, compressed files need `collectstatic`; debug and tests serve the sources.
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

# Opt in to Django 6's default for URL form fields now.
FORMS_URLFIELD_ASSUME_HTTPS = True

# Forms are rendered by crispy-forms with the house pack in templates/house/ (labels above
# the fields, hints, messages next to the fields, fieldsets with legends).
CRISPY_ALLOWED_TEMPLATE_PACKS = ["house"]
CRISPY_TEMPLATE_PACK = "house"

# The console backend prints whole messages (personal data): local development only.
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
# Participant e-mails go through an outbox table (registrations.QueuedEmail). "immediate"
# sends each one right after its transaction commits; "queue" leaves them to the worker
# `manage.py send_queued_email --loop`, so that a registration rush is not slowed down by
# rendering and sending. Either way, `send_queued_email` from cron retries failures.
EMAIL_DELIVERY = os.environ.get("DJANGO_EMAIL_DELIVERY", "immediate").strip().lower()
if EMAIL_DELIVERY not in {"immediate", "queue"}:
    raise ImproperlyConfigured("DJANGO_EMAIL_DELIVERY must be 'immediate' or 'queue'.")
# While e-mails are being queued (a rush), the worker works at most this share of the
# time and leaves the rest to the site on the same machine (1: no pauses).
EMAIL_WORKER_BUSY_SHARE = float(os.environ.get("DJANGO_EMAIL_WORKER_BUSY_SHARE") or "0.2")
EMAIL_FILE_PATH = os.environ.get("DJANGO_EMAIL_FILE_PATH")  # file-based backend (benchmarks)
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", default=True)
# Absolute links in e-mails, which are sent outside any request.
SITE_URL = os.environ.get("DJANGO_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "programma@localhost")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "registrations:my_sessions"


# Stateless app servers: sessions and the cache (page generations) live in the database by
# default, or in a shared cache such as Redis (DJANGO_CACHE_URL=redis://host:6379/0,
# which needs the `redis` package). The database cache's table comes with `migrate`.
def cache_from_url(url):
    scheme, _sep, rest = url.partition("://")
    backends = {
        "db": "sitewide.cache.DatabaseCache",  # one-statement writes, atomic counts
        "locmem": "django.core.cache.backends.locmem.LocMemCache",
        "redis": "django.core.cache.backends.redis.RedisCache",
        "rediss": "django.core.cache.backends.redis.RedisCache",
        "dummy": "django.core.cache.backends.dummy.DummyCache",
    }
    if scheme not in backends:
        raise ImproperlyConfigured(f"DJANGO_CACHE_URL: unknown cache {scheme!r}.")
    location = url if scheme.startswith("redis") else rest
    return {"BACKEND": backends[scheme], "LOCATION": location}


CACHES = {
    "default": cache_from_url(
        os.environ.get("DJANGO_CACHE_URL", "db://" if PRODUCTION else "locmem://")
    )
}
SESSION_ENGINE = os.environ.get("DJANGO_SESSION_ENGINE", "django.contrib.sessions.backends.db")

# Registration abuse: POSTs per visitor address to the registration forms ("20/10m" = 20
# per ten minutes; "off" disables). Off in the test suite, whose client is one address.
REGISTRATION_RATE_LIMIT = os.environ.get(
    "DJANGO_REGISTRATION_RATE_LIMIT", "off" if TESTING else "20/10m"
)
# Logins (/account/login/, /admin/login/): failed attempts per account name as typed, and
# per address (sitewide/login_throttle.py). Each costs half a second of CPU on purpose.
LOGIN_RATE_LIMIT = os.environ.get("DJANGO_LOGIN_RATE_LIMIT", "off" if TESTING else "10/15m")
LOGIN_ADDRESS_RATE_LIMIT = os.environ.get(
    "DJANGO_LOGIN_ADDRESS_RATE_LIMIT", "off" if TESTING else "50/15m"
)
# `manage.py anonymise_registrations` (daily cron) anonymises registrations this many
# days after their event.
REGISTRATION_RETENTION_DAYS = int(os.environ.get("DJANGO_REGISTRATION_RETENTION_DAYS", "90"))
# Public pages served from memory to anonymous visitors, renewed when their programme
# changes, with the seats filled in per response (sitewide/pagecache.py). 0 switches the
# cache off.
PAGE_CACHE_SECONDS = int(os.environ.get("DJANGO_PAGE_CACHE_SECONDS", "60" if PRODUCTION else "0"))
# How long an app server trusts that a kept page's programme has not changed before it asks
# the shared cache again: one read per page and fraction of a second instead of one per view.
# A programme change shows this much later at most; seats are always exact.
PAGE_CACHE_RECHECK_SECONDS = float(
    os.environ.get("DJANGO_PAGE_CACHE_RECHECK_SECONDS", "0" if TESTING else "0.5")
)
# Seconds a visitor is asked to wait when the database is unreachable (503 Retry-After).
DATABASE_OUTAGE_RETRY_AFTER = 30
# A bare view at /_bench/ceiling measures the server's ceiling (benchmarks only).
BENCHMARK_VIEWS = env_bool("DJANGO_BENCHMARK_VIEWS", default=DEBUG)

# Logs go to stdout, without personal data (sitewide/log_filters.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_personal_data": {"()": "sitewide.log_filters.RedactPersonalData"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["redact_personal_data"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # Replace Django's default handlers, which would print unredacted records in debug.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
