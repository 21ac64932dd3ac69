"""Settings for production: `check --deploy`, required values, refusals, the proxy check.

They run Django in a subprocess (tests/production.py): the test suite itself imports
pytest, which the settings read as "not production".
"""

import json

import pytest

from sitewide import checks
from tests.production import production_env, run_django


def test_check_deploy_is_clean_with_production_environment():
    result = run_django(["check", "--deploy", "--fail-level", "WARNING"], production_env())

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_check_deploy_warns_without_an_explicit_proxy_count():
    result = run_django(
        ["check", "--deploy", "--fail-level", "WARNING"],
        production_env(DJANGO_TRUSTED_PROXY_COUNT=None),
    )

    assert result.returncode != 0
    assert "(sitewide.W001) DJANGO_TRUSTED_PROXY_COUNT is not set" in result.stderr


@pytest.mark.parametrize(("count", "warned"), [(None, True), (0, False), (1, False)])
def test_the_proxy_count_check_wants_a_stated_count(settings, count, warned):
    settings.TRUSTED_PROXY_COUNT = count

    messages = checks.check_trusted_proxy_count(None)

    assert [message.id for message in messages] == (["sitewide.W001"] if warned else [])


def test_production_settings_are_strict():
    code = (
        "from django.conf import settings as s\n"
        "import json\n"
        "print(json.dumps([s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER,"
        " s.CSRF_TRUSTED_ORIGINS, s.DATABASES['default']['CONN_MAX_AGE'],"
        " s.DATABASES['default']['CONN_HEALTH_CHECKS'], s.CACHES['default']['BACKEND'],"
        " s.SESSION_ENGINE, s.EMAIL_BACKEND, s.STORAGES['staticfiles']['BACKEND'],"
        " s.REGISTRATION_RATE_LIMIT]))"
    )

    result = run_django(code, production_env())

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        False,
        True,
        True,
        True,
        31536000,
        ["HTTP_X_FORWARDED_PROTO", "https"],
        ["https://programma.example.nl"],
        600,
        True,
        "sitewide.cache.DatabaseCache",
        "django.contrib.sessions.backends.db",
        "django.core.mail.backends.smtp.EmailBackend",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "20/10m",
    ]


@pytest.mark.parametrize(
    "missing",
    ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "DJANGO_SITE_URL"],
)
def test_production_refuses_to_start_without_a_required_setting(missing):
    result = run_django(["check"], production_env(**{missing: None}))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set when DJANGO_DEBUG is off" in result.stderr


def test_production_names_every_missing_setting_at_once():
    env = production_env(DJANGO_SECRET_KEY=None, DATABASE_URL=None)

    result = run_django(["check"], env)

    assert "DJANGO_SECRET_KEY, DATABASE_URL must be set" in result.stderr


def test_production_refuses_sqlite():
    result = run_django(["check"], production_env(DATABASE_URL="sqlite:////tmp/x.sqlite3"))

    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL in production." in result.stderr


def test_source_commands_run_without_production_settings():
    env = {k: v for k, v in production_env().items() if not k.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.pop("DATABASE_URL")

    migrations = run_django(["makemigrations", "--check", "--dry-run"], env)
    serving = run_django(["check"], env)

    assert migrations.returncode == 0, migrations.stderr
    assert "No changes detected" in migrations.stdout
    assert serving.returncode != 0
    assert "must be set when DJANGO_DEBUG is off" in serving.stderr


def test_debug_runs_without_production_settings():
    env = {k: v for k, v in production_env().items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"})
    env.pop("DATABASE_URL")

    result = run_django(["check"], env)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("setting", "threshold"), [(None, 5), ("off", None)])
def test_the_seat_modules_prepared_statements_can_be_turned_off(setting, threshold):
    code = (
        "from django.conf import settings as s\n"
        "print(repr(s.DATABASES['default']['OPTIONS'].get('prepare_threshold')))"
    )

    result = run_django(code, production_env(DJANGO_DB_PREPARED_STATEMENTS=setting))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == repr(threshold)
