"""The reverse proxy in front of gunicorn: the shipped nginx config.

The nginx tests run nginx from config/nginx.conf (filled in as bench/proxy.py does) in
front of a small recording server, and are skipped where nginx or openssl is missing.
"""

import contextlib
import http.server
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings

from bench import proxy
from sitewide.checks import check_trusted_proxy_count
from sitewide.ratelimit import client_address

ROOT = Path(__file__).resolve().parent.parent

needs_nginx = pytest.mark.skipif(
    not (shutil.which("nginx") or Path(proxy.NGINX).exists()) or not shutil.which("openssl"),
    reason="nginx and openssl are not installed",
)


def test_the_nginx_templates_have_a_value_for_every_placeholder():
    with pytest.raises(ValueError, match="media_root"):
        proxy.render(https_listen="443", http_listen="80", certificate="c", certificate_key="k")
    with pytest.raises(ValueError, match="load_balancer"):
        proxy.render(proxy.BEHIND_LOAD_BALANCER, http_listen="80", media_root="/srv/media")
    with pytest.raises(ValueError, match="upstream"):
        proxy.render(proxy.SHARED)


def test_both_nginx_configurations_include_the_shared_part_from_their_directory():
    for template in [proxy.TEMPLATE, proxy.BEHIND_LOAD_BALANCER]:
        assert f"include {proxy.SHARED.name};" in template.read_text()


@pytest.fixture
def nginx_prefix():
    # Not pytest's tmp_path: nginx runs as nobody when the tests run as root, and may not
    # enter root's private temporary directories.
    directory = Path(tempfile.mkdtemp(prefix="test-nginx-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@needs_nginx
@pytest.mark.parametrize("load_balancer", [None, "10.0.0.0/29"])
def test_the_shipped_nginx_configurations_pass_nginx_t(nginx_prefix, load_balancer):
    config = proxy.prefix(nginx_prefix, "127.0.0.1:8000", load_balancer=load_balancer)

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


@contextlib.contextmanager
def running_nginx(nginx_prefix, **options):
    """nginx from a shipped template in front of a Recorder: (nginx URL, requests seen)."""
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    upstream.seen = []
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = proxy.common.free_port()
    behind_load_balancer = options.get("load_balancer") is not None
    config = proxy.prefix(
        nginx_prefix,
        f"127.0.0.1:{upstream.server_address[1]}",
        **({"http_port": port} if behind_load_balancer else {"https_port": port}),
        **options,
    )
    process = subprocess.Popen(
        proxy.command(nginx_prefix, config, "-g", "daemon off;"),
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"{'http' if behind_load_balancer else 'https'}://127.0.0.1:{port}"
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


@pytest.fixture
def nginx(nginx_prefix):
    """nginx as config/nginx.conf ships it, terminating TLS."""
    with running_nginx(nginx_prefix) as running:
        yield running


@pytest.fixture
def balanced_nginx(nginx_prefix):
    """nginx as config/nginx-behind-load-balancer.conf ships it, the balancer at 127.0.0.1."""
    with running_nginx(nginx_prefix, load_balancer="127.0.0.1") as running:
        yield running


def exchange(sock, data):
    """Send `data`, read the response until the server closes the connection."""
    sock.sendall(data)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def forwarded_request(url, path, *headers):
    """A GET of `path` through nginx with these extra header lines."""
    with proxy.connect(url) as sock:
        return exchange(
            sock,
            "\r\n".join(
                [f"GET {path} HTTP/1.1", "Host: programma.example.nl", "Connection: close"]
                + list(headers)
            ).encode()
            + b"\r\n\r\n",
        )


@needs_nginx
def test_nginx_passes_on_the_visitors_address_and_the_scheme_and_not_what_a_client_forges(nginx):
    url, seen = nginx

    answer = forwarded_request(
        url, "/healthz", "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: http"
    )

    assert answer.startswith(b"HTTP/1.1 200")
    # Behind this one proxy (DJANGO_TRUSTED_PROXY_COUNT=1) the app sees nginx's entry.
    assert assert_passed_on(seen, "/healthz", "https", "203.0.113.9, 127.0.0.1", proxies=1) == (
        "127.0.0.1"
    )


def assert_passed_on(seen, path, scheme, forwarded_for, *, proxies):
    """The one request nginx passed on; returns the client address the app reads from it
    behind `proxies` proxies."""
    [(_method, seen_path, headers, _body)] = seen
    assert seen_path == path
    assert headers["Host"] == "programma.example.nl"
    assert headers["X-Forwarded-Proto"] == scheme
    assert headers["X-Forwarded-For"] == forwarded_for
    request = RequestFactory().get(
        "/", HTTP_X_FORWARDED_FOR=headers["X-Forwarded-For"], REMOTE_ADDR="127.0.0.1"
    )
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        return client_address(request)


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
        assert forwarded_request(url, "/meanwhile").startswith(b"HTTP/1.1 200")
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


@needs_nginx
def test_behind_a_load_balancer_nginx_passes_its_scheme_and_address_on(balanced_nginx):
    url, seen = balanced_nginx

    answer = forwarded_request(
        url,
        "/evenementen/",
        # The visitor forged the first entry; the balancer appended the second.
        "X-Forwarded-For: 203.0.113.9, 198.51.100.7",
        "X-Forwarded-Proto: https",
    )

    assert answer.startswith(b"HTTP/1.1 200")  # passed on, not redirected
    # Behind the balancer and nginx (DJANGO_TRUSTED_PROXY_COUNT=2) the app sees the
    # address the balancer wrote.
    forwarded_for = "203.0.113.9, 198.51.100.7, 127.0.0.1"
    assert assert_passed_on(seen, "/evenementen/", "https", forwarded_for, proxies=2) == (
        "198.51.100.7"
    )


@needs_nginx
def test_behind_a_load_balancer_only_https_passes_as_the_scheme(balanced_nginx):
    url, seen = balanced_nginx

    for proto in ["X-Forwarded-Proto: http", "X-Forwarded-Proto: https, https", "X-A: b"]:
        assert forwarded_request(url, "/", proto).startswith(b"HTTP/1.1 200")

    assert [headers["X-Forwarded-Proto"] for _m, _p, headers, _b in seen] == ["http"] * 3


@needs_nginx
def test_behind_a_load_balancer_nginx_refuses_everyone_else(nginx_prefix):
    with running_nginx(nginx_prefix, load_balancer="192.0.2.1") as (url, seen):
        answer = forwarded_request(url, "/", "X-Forwarded-Proto: https")

    assert answer.startswith(b"HTTP/1.1 403")
    assert seen == []


@needs_nginx
@pytest.mark.parametrize("load_balancer", [None, "127.0.0.1"])
def test_nginx_serves_the_uploads_itself(nginx_prefix, load_balancer):
    photo = nginx_prefix / "media" / "speakers" / "anna.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8\xff\xe0 a photo")
    photo.parent.chmod(0o755)
    photo.chmod(0o644)
    with running_nginx(nginx_prefix, load_balancer=load_balancer) as (url, seen):
        answer = forwarded_request(url, "/media/speakers/anna.jpg")
        missing = forwarded_request(url, "/media/speakers/bob.jpg")

    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Type: image/jpeg" in head
    assert b"X-Content-Type-Options: nosniff" in head
    assert body == b"\xff\xd8\xff\xe0 a photo"
    assert missing.startswith(b"HTTP/1.1 404")
    assert seen == []  # gunicorn never saw them


@needs_nginx
def test_nginx_that_terminates_tls_redirects_plain_http_but_the_health_check(nginx_prefix):
    http_port = proxy.common.free_port()
    with running_nginx(nginx_prefix, http_port=http_port) as (_url, seen):
        plain = f"http://127.0.0.1:{http_port}"
        redirected = forwarded_request(plain, "/evenementen/")
        health = forwarded_request(plain, "/healthz")

    assert redirected.startswith(b"HTTP/1.1 301")
    assert b"Location: https://programma.example.nl/evenementen/" in redirected
    assert health.startswith(b"HTTP/1.1 200")
    assert [path for _m, path, _h, _b in seen] == ["/healthz"]


def test_the_docs_and_the_check_give_the_same_proxy_counts(settings):
    docs = (ROOT / "docs" / "deployment.md").read_text()
    settings.DEBUG, settings.TRUSTED_PROXY_COUNT = False, None
    [warning] = check_trusted_proxy_count(None)

    table = {
        setup.strip(): count.strip()
        for setup, _config, count in re.findall(r"^\| ([^|]+) \| ([^|]+) \| (\d) \|$", docs, re.M)
    }
    assert table == {
        "nginx only (one app server)": "1",
        "a load balancer that terminates TLS, then nginx": "2",
        "a load balancer that passes TLS through (TCP, keeping the client's address), then nginx": (
            "1"
        ),
        "nothing (visitors reach gunicorn directly; not for production)": "0",
    }
    assert "2 for a load balancer that terminates TLS and nginx, 1 for nginx alone" in warning.hint
    # The release settings are those of the headline set-up: a load balancer that
    # terminates TLS in front of nginx.
    assert "load balancer ──HTTP──> app server 1 (nginx" in docs
    release = docs.split("## Release", 1)[1].split("```", 2)[1]
    assert "DJANGO_TRUSTED_PROXY_COUNT=2" in release
    assert set(re.findall(r"TRUSTED_PROXY_COUNT=(\d)", docs)) == {"1", "2"}
