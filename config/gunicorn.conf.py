"""gunicorn settings for production: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

Every value can be changed through the environment (see README "Production"). Logs go
to stdout, one line per request, without client addresses, query strings, referrers,
user agents or personal-link tokens.
"""

import gc
import os
import sys
from pathlib import Path

# The project directory, so that sitewide.log_filters imports when gunicorn runs elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _int(name, default):
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Only the reverse proxy on this machine reaches gunicorn: a slow client talking to it
# directly holds a thread per connection (docs/deployment.md "Reverse proxy").
bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
# Workers are processes: one per core, and one more for the moments a request waits for
# PostgreSQL. More only queue for the cores: on 2 cores, 3 workers x 2 threads took a
# registration rush at 117 per second where 5 x 4 took 105, as the request holding an
# event's lock waited for a core behind the others (docs/benchmarks.md).
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
# Threads serve several requests per process, covering what a request waits for:
# PostgreSQL, and with immediate e-mail delivery (the default) the mail server. Every
# thread holds one persistent database connection: workers x threads per app server.
_immediate = os.environ.get("DJANGO_EMAIL_DELIVERY", "immediate").strip().lower() == "immediate"
threads = _int("GUNICORN_THREADS", 4 if _immediate else 2)
worker_class = "gthread"
# A request that takes longer than this is killed with its worker; a healthy one takes
# well under a second, and PostgreSQL connects time out after 5 s (DJANGO_DB_CONNECT_TIMEOUT).
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than the load balancer's idle timeout when it reuses connections.
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Replace workers now and then, so that slow leaks never add up.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10
# Load the application once in the master: settings errors stop the start at once,
# and workers share the loaded code's memory.
preload_app = True
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"


def pre_fork(server, worker):
    """Objects the master loaded (preload_app) live as long as the workers: frozen, the
    garbage collector's full passes in a worker skip them. A full pass took 70 ms
    instead of 12, a pause that a request holding an event's lock passes on to everyone
    registering, and it wrote to pages shared with the master."""
    gc.freeze()


# Logging: stdout, redacted (sitewide/log_filters.py).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '"%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_personal_data": {"()": "sitewide.log_filters.RedactPersonalData"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["redact_personal_data"],
            "formatter": "plain",
        },
    },
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
    },
}
if os.environ.get("GUNICORN_ACCESS_LOG", "on").lower() in {"0", "off", "false", "no"}:
    logconfig_dict["loggers"]["gunicorn.access"]["level"] = "WARNING"
