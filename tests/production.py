"""Django with production settings, run in a subprocess.

The test suite itself imports pytest, which the settings read as "not production".
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "x" * 10 + "production-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(**overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "GUNICORN_")) and k != "DATABASE_URL"
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": SECRET,
            "DJANGO_ALLOWED_HOSTS": "programma.example.nl",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://programma.example.nl",
            "DJANGO_SITE_URL": "https://programma.example.nl",
            "DATABASE_URL": "postgres://buurt:secret@127.0.0.1:5432/buurt",
            "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
            "DJANGO_TRUSTED_PROXY_COUNT": "1",
        }
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def run_django(code_or_args, env, timeout=60):
    if isinstance(code_or_args, str):
        args = [sys.executable, "-c", "import django; django.setup()\n" + code_or_args]
    else:
        args = [sys.executable, "manage.py", *code_or_args]
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def results(completed):
    """The lines a subprocess printed with print("RESULT", ...), not its log lines."""
    return [line[7:] for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
