"""The gunicorn config (config/gunicorn.conf.py): its address, workers, threads and logs,
and the documented production command serving the site."""

import gc
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.production import ROOT, free_port, production_env, run_django

GUNICORN_CONFIG = str(ROOT / "config" / "gunicorn.conf.py")


def test_gunicorn_listens_only_on_the_local_address_by_default(monkeypatch):
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.delenv("PORT", raising=False)

    assert runpy.run_path(GUNICORN_CONFIG)["bind"] == "127.0.0.1:8000"


def test_gunicorn_address_can_still_be_set(monkeypatch):
    monkeypatch.setenv("GUNICORN_BIND", "unix:/run/buurt/gunicorn.sock")

    assert runpy.run_path(GUNICORN_CONFIG)["bind"] == "unix:/run/buurt/gunicorn.sock"


def test_gunicorn_config_reads_workers_threads_and_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "20")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.delenv("GUNICORN_BIND", raising=False)

    config = runpy.run_path(GUNICORN_CONFIG)

    assert (config["workers"], config["threads"], config["timeout"]) == (3, 8, 20)
    assert config["bind"] == "127.0.0.1:9000"
    assert config["worker_class"] == "gthread"
    assert (config["accesslog"], config["errorlog"]) == ("-", "-")
    assert "%(h)s" not in config["access_log_format"]  # no client addresses
    handler = config["logconfig_dict"]["handlers"]["stdout"]
    assert (handler["stream"], handler["filters"]) == ("ext://sys.stdout", ["redact_personal_data"])


def test_gunicorn_defaults_follow_the_cores_and_the_e_mail_delivery(monkeypatch):
    for name in ["GUNICORN_WORKERS", "WEB_CONCURRENCY", "GUNICORN_THREADS"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    path = GUNICORN_CONFIG

    monkeypatch.delenv("DJANGO_EMAIL_DELIVERY", raising=False)
    immediate = runpy.run_path(path)
    monkeypatch.setenv("DJANGO_EMAIL_DELIVERY", "queue")
    queued = runpy.run_path(path)

    # Requests that wait for the mail server get more threads.
    assert (immediate["workers"], immediate["threads"]) == (3, 4)
    assert (queued["workers"], queued["threads"]) == (3, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_site_with_production_settings(tmp_path):
    """The documented production command, against the test database."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = free_port()
    env = production_env(
        DATABASE_URL=url,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_CACHE_URL="locmem://",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
    )
    assert run_django(["collectstatic", "--noinput", "-v0"], env, timeout=120).returncode == 0
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(gunicorn), "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        import http.client

        def get(path, **headers):
            for _ in range(100):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    return response.status, dict(response.getheaders()), response.read()
                except ConnectionRefusedError:
                    time.sleep(0.1)
            raise AssertionError(log.read_text())

        health = get("/healthz")
        plain_http = get("/")
        home = get("/", **{"X-Forwarded-Proto": "https"})
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert health[0] == 200
    assert plain_http[0] == 301
    assert plain_http[1]["Location"] == f"https://127.0.0.1:{port}/"
    assert home[0] == 200
    assert "Strict-Transport-Security" in home[1]
    assert b'<html lang="nl">' in home[2]
    lines = log.read_text()
    assert '"GET /healthz HTTP/1.1" 200' in lines
    assert "127.0.0.1 -" not in lines  # no client addresses in the access log


def test_gunicorn_freezes_what_the_master_loaded_before_each_worker_starts():
    """Full garbage collections in a worker leave the preloaded app's objects alone."""
    pre_fork = runpy.run_path(GUNICORN_CONFIG)["pre_fork"]
    gc.unfreeze()
    try:
        pre_fork(server=None, worker=None)
        assert gc.get_freeze_count() > 10_000  # Django, the project, the settings
    finally:
        gc.unfreeze()
