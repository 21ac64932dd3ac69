"""nginx in front of the benchmark's gunicorn, as config/nginx.conf ships it (and, for the
tests, config/nginx-behind-load-balancer.conf).

nginx runs as a process of its own (not as a daemon), unprivileged (as ``nobody`` when the
benchmark runs as root), with its prefix, pid file, logs, temporary files and a self-signed
certificate in a temporary directory; nothing under /etc is read or written. Started and
stopped like PostgreSQL in bench/common.py:

    with proxy.running(server, workdir) as nginx:
        nginx.url  # https://127.0.0.1:<port>
"""

import contextlib
import functools
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from bench import common

TEMPLATE = common.ROOT / "config" / "nginx.conf"  # nginx terminates TLS
BEHIND_LOAD_BALANCER = common.ROOT / "config" / "nginx-behind-load-balancer.conf"
SHARED = common.ROOT / "config" / "nginx-proxy.conf"  # included by both, from their directory
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


def render(template=TEMPLATE, **values):
    """A template of config/ with its @NAME@ placeholders filled in (names in lower case)."""
    text = Path(template).read_text()
    missing = {name.lower() for name in PLACEHOLDER.findall(text)} - set(values)
    if missing:
        raise ValueError(f"no value for {sorted(missing)}")
    return PLACEHOLDER.sub(lambda match: str(values[match.group(1).lower()]), text)


def self_signed_certificate(directory, host=common.HOST):
    """(certificate, key) paths of a one-day certificate for `host`, made with openssl."""
    certificate, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=IP:{host}",
            "-keyout",
            key,
            "-out",
            certificate,
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


def prefix(directory, upstream, *, https_port=None, http_port=None, load_balancer=None):
    """An nginx prefix in `directory`: the filled-in configuration (config/nginx.conf, or
    with the `load_balancer`'s address config/nginx-behind-load-balancer.conf), a
    certificate, an uploads directory (``media``) and the directories nginx writes to, owned
    by the user it will run as. Returns the config path."""
    directory = Path(directory)
    for sub in ("logs", "tmp", "media"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    http_listen = f"{common.HOST}:{http_port or common.free_port()}"
    media_root = directory / "media"
    if load_balancer is None:
        certificate, key = self_signed_certificate(directory)
        text = render(
            https_listen=f"{common.HOST}:{https_port or common.free_port()}",
            http_listen=http_listen,
            certificate=certificate,
            certificate_key=key,
            media_root=media_root,
        )
    else:
        text = render(
            BEHIND_LOAD_BALANCER,
            http_listen=http_listen,
            load_balancer=load_balancer,
            media_root=media_root,
        )
    config = directory / "nginx.conf"
    config.write_text(text)
    (directory / SHARED.name).write_text(render(SHARED, upstream=upstream))
    if os.geteuid() == 0:
        for path in [directory, *directory.rglob("*")]:
            shutil.chown(path, "nobody", "nogroup")
    return config


def command(directory, config, *args):
    """nginx with this prefix and configuration, as ``nobody`` when we are root."""
    argv = [NGINX, "-p", f"{directory}/", "-c", str(config), *args]
    return ["runuser", "-u", "nobody", "--", *argv] if os.geteuid() == 0 else argv


class Nginx(common.Background):
    def __init__(self, upstream, workdir):
        # Not under `workdir`, which only root may enter.
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = common.free_port()
        self.url = f"https://{common.HOST}:{self.port}"
        self.log_path = Path(workdir) / "nginx.log"
        self.config = prefix(self.dir, upstream, https_port=self.port)

    def start(self):
        self.spawn(command(self.dir, self.config, "-g", "daemon off;"), os.environ.copy())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log_path.read_text()}")
            with contextlib.suppress(OSError):
                if https_get(self.url + "/healthz", timeout=5)[0] == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError("nginx did not pass /healthz on within 10 s")

    def stop(self):
        super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def error_log(self):
        return (self.dir / "logs" / "error.log").read_text(errors="replace").splitlines()


def nginx_version():
    return subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()


@functools.cache
def client_context():
    """TLS for the benchmark's clients: the self-signed certificate is not checked. One
    context for all (making one loads the system's CA certificates: tens of ms)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def https_get(url, *, timeout=30, headers=None):
    """One GET on a new TLS connection: (status, body bytes)."""
    import http.client

    match = re.match(r"https://([^/:]+):(\d+)(/.*)", url)
    connection = http.client.HTTPSConnection(
        match.group(1), int(match.group(2)), timeout=timeout, context=client_context()
    )
    try:
        connection.request("GET", match.group(3), headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def connect(url, *, timeout=30):
    """A socket to `url`'s host and port, wrapped in TLS for https:// URLs."""
    match = re.match(r"(https?)://([^/:]+):(\d+)", url)
    sock = socket.create_connection((match.group(2), int(match.group(3))), timeout=timeout)
    if match.group(1) == "https":
        sock = client_context().wrap_socket(sock, server_hostname=match.group(2))
    return sock


@contextlib.contextmanager
def running(server, workdir):
    """nginx in front of `server` (a common.Gunicorn) for the duration of the block."""
    nginx = Nginx(f"{common.HOST}:{server.port}", workdir)
    try:
        common.log("starting nginx")
        nginx.start()
        common.log(f"nginx at {nginx.url} in front of gunicorn at {server.url}")
        yield nginx
    finally:
        nginx.stop()
