"""The reverse proxy in front of gunicorn: the shipped nginx config.

The nginx tests run nginx from config/nginx.conf (filled in as bench/proxy.py does) in
front of a small recording server, and are skipped where nginx or openssl is missing.
"""

import http.server
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings

from bench import proxy
from sitewide.ratelimit import client_address

ROOT = Path(__file__).resolve().parent.parent

needs_nginx = pytest.mark.skipif(
    not (shutil.which("nginx") or Path(proxy.NGINX).exists()) or not shutil.which("openssl"),
    reason="nginx and openssl are not installed",
)


def test_the_nginx_template_has_a_value_for_every_placeholder():
    with pytest.raises(ValueError, match="upstream"):
        proxy.render(https_listen="443", http_listen="80", certificate="c", certificate_key="k")


@pytest.fixture
def nginx_prefix():
    # Not pytest's tmp_path: nginx runs as nobody when the tests run as root, and may not
    # enter root's private temporary directories.
    directory = Path(tempfile.mkdtemp(prefix="test-nginx-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@needs_nginx
def test_the_shipped_nginx_configuration_passes_nginx_t(nginx_prefix):
    config = proxy.prefix(nginx_prefix, "127.0.0.1:8000")

    checked = subprocess.run(
        proxy.command(nginx_prefix, config, "-t"), capture_output=True, text=True, timeout=30
    )

    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


class Recorder(http.server.BaseHTTPRequestHandler):
    """The app server's stand-in: records each request it receives, answers 200."""

    def do_GET(self):
        self.server.seen.append((self.command, self.path, dict(self.headers), b""))
        self._answer()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        self._answer()

    def _answer(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def nginx(nginx_prefix):
    """nginx from the shipped template in front of a Recorder: (nginx URL, requests seen)."""
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    upstream.seen = []
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = proxy.common.free_port()
    config = proxy.prefix(nginx_prefix, f"127.0.0.1:{upstream.server_address[1]}", https_port=port)
    process = subprocess.Popen(
        proxy.command(nginx_prefix, config, "-g", "daemon off;"),
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        for _attempt in range(200):
            assert process.poll() is None, process.stderr.read()
            try:
                proxy.connect(url, timeout=5).close()
                break
            except OSError:
                threading.Event().wait(0.05)
        yield url, upstream.seen
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        upstream.shutdown()


def exchange(sock, data):
    """Send `data`, read the response until the server closes the connection."""
    sock.sendall(data)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def full_request(url, path):
    with proxy.connect(url) as sock:
        return exchange(
            sock, f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()
        )


@needs_nginx
def test_nginx_passes_on_the_visitors_address_and_the_scheme_and_not_what_a_client_forges(nginx):
    url, seen = nginx

    with proxy.connect(url) as sock:
        answer = exchange(
            sock,
            b"GET /healthz HTTP/1.1\r\nHost: programma.example.nl\r\nConnection: close\r\n"
            b"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: http\r\n\r\n",
        )

    assert answer.startswith(b"HTTP/1.1 200")
    [(_method, path, headers, _body)] = seen
    assert path == "/healthz"
    assert headers["Host"] == "programma.example.nl"
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    # Behind this one proxy (DJANGO_TRUSTED_PROXY_COUNT=1) the app sees nginx's entry.
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR=headers["X-Forwarded-For"], REMOTE_ADDR="127.0.0.1"
    )
    with override_settings(TRUSTED_PROXY_COUNT=1):
        assert client_address(request) == "127.0.0.1"


@needs_nginx
def test_nginx_passes_a_slow_request_on_only_when_it_is_complete(nginx):
    url, seen = nginx
    slow_head, slow_body = proxy.connect(url), proxy.connect(url)
    try:
        slow_head.sendall(b"GET /slow-head HTTP/1.1\r\nHost: a\r\nConnection: close\r\n")
        slow_body.sendall(
            b"POST /slow-body HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nname="
        )
        # A request sent after them is answered while they are incomplete ...
        assert full_request(url, "/meanwhile").startswith(b"HTTP/1.1 200")
        assert [path for _method, path, _headers, _body in seen] == ["/meanwhile"]
        # ... and they reach the app, whole, once they are complete.
        assert exchange(slow_head, b"\r\n").startswith(b"HTTP/1.1 200")
        assert exchange(slow_body, b"Anna K").startswith(b"HTTP/1.1 200")
    finally:
        slow_head.close()
        slow_body.close()

    assert [(method, path, body) for method, path, _headers, body in seen] == [
        ("GET", "/meanwhile", b""),
        ("GET", "/slow-head", b""),
        ("POST", "/slow-body", b"name=Anna K"),
    ]
