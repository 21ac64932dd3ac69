"""The health check at /healthz, and the 503 answers while the database is unreachable."""

import pytest
from django.db import connection

from tests.production import free_port, production_env, results, run_django


@pytest.mark.django_db
def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")

    assert (response.status_code, response.content) == (200, b"ok\n")
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_needs_no_allowed_host_and_no_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/healthz", HTTP_HOST="10.0.3.17:8000")

    assert response.status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_healthz_connects_anew_when_its_kept_connection_broke(client):
    from tests.test_cache import terminate_backend

    connection.ensure_connection()
    old_pid = terminate_backend()  # as a PostgreSQL restart since the last request

    response = client.get("/healthz")

    assert response.status_code == 200
    assert connection.connection.info.backend_pid != old_pid


def test_unreachable_database_gives_503_health_and_dutch_503_pages(static_root):
    closed_port = free_port()
    env = production_env(
        DATABASE_URL=f"postgres://buurt:secret@127.0.0.1:{closed_port}/buurt",
        DJANGO_DB_CONNECT_TIMEOUT="2",
        DJANGO_STATIC_ROOT=str(static_root),
    )
    code = (
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='programma.example.nl', HTTP_X_FORWARDED_PROTO='https')\n"
        "h = Client().get('/healthz', HTTP_HOST='10.0.3.17')\n"
        "print('RESULT', h.status_code, h.content.decode().strip())\n"
        "for path in ['/', '/evenementen/dag-van-de-buurt/aanmelden/']:\n"
        "    r = c.get(path)\n"
        "    dutch = 'Tijdelijk niet beschikbaar' in r.content.decode()\n"
        "    print('RESULT', r.status_code, r['Retry-After'], dutch)\n"
        "r = c.post('/evenementen/dag-van-de-buurt/aanmelden/', {'name': 'x'})\n"
        "print('RESULT', r.status_code, 'Tijdelijk niet beschikbaar' in r.content.decode())\n"
    )

    result = run_django(code, env)

    assert results(result) == [
        "503 database unavailable",
        "503 30 True",
        "503 30 True",
        "503 True",  # a registration sent during the outage
    ], result.stderr
    assert "Database unavailable (OperationalError): answered 503" in result.stdout
