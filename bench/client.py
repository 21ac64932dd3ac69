"""A minimal browser for the benchmarks: keep-alive connection, cookies, CSRF form posts.

It speaks HTTP/1.1 over a plain socket. The load generator shares the machine's two cores
with the server it measures, and http.client (which parses every response's headers with
the e-mail package) cost it about a millisecond of CPU per registration.
"""

import re
import socket
import time
from urllib.parse import urlencode, urlsplit

from bench.common import PROXY_HEADERS

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ROUND_CHOICE = re.compile(r'name="(round_\d+)" value="(\d+)"')


class ConnectionClosed(ConnectionError):
    """The server closed the connection before answering."""


class BrokenResponse(ConnectionError):
    """The server closed the connection in the middle of a response: not retried, as
    the request may have been handled."""


class Browser:
    """One visitor: sends the cookies it was given, and Origin/Referer on POST."""

    def __init__(self, base_url, *, timeout=60):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.origin = f"https://{self.host}:{self.port}"  # as the visitor sees it, behind TLS
        self.timeout = timeout
        self.cookies = {}
        self.connection = None
        self.buffer = b""
        self.timings = []  # (method, path, status, seconds)
        self.resent = 0  # requests sent again after the server closed the connection
        # The visitor's own address, as the reverse proxy passes it on (the app trusts one
        # proxy in the benchmarks: DJANGO_TRUSTED_PROXY_COUNT=1); None: 127.0.0.1 for all.
        self.address = None

    def _send(self, method, path, *, body=b"", headers=None):
        headers = {**PROXY_HEADERS, **(headers or {})}
        if self.address:
            headers["X-Forwarded-For"] = self.address
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body or method == "POST":
            headers["Content-Length"] = str(len(body))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}\r\n"
        ).encode("latin-1") + body
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = socket.create_connection(
                    (self.host, self.port), timeout=self.timeout
                )
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.buffer = b""
            start = time.perf_counter()
            try:
                self.connection.sendall(request)
                status, response_headers, data = self._response(method)
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
                self.resent += 1
                continue
            elapsed = time.perf_counter() - start
            break
        for cookie in response_headers.get("set-cookie", ()):
            name, _sep, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response_headers.get("connection", [""])[-1].lower() == "close":
            self.close()
        self.timings.append((method, path, status, elapsed))
        lowered = {name: values[-1] for name, values in response_headers.items()}
        return status, lowered, data.decode("utf-8", "replace")

    def _response(self, method):
        """(status, {lower-case name: [values]}, body) of the next response."""
        while b"\r\n\r\n" not in self.buffer:
            self._receive(started=bool(self.buffer))
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            name, _sep, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        if method == "HEAD" or status in {204, 304}:
            return status, headers, b""
        if "chunked" in headers.get("transfer-encoding", [""])[-1].lower():
            return status, headers, self._chunked()
        if "content-length" in headers:
            return status, headers, self._exactly(int(headers["content-length"][-1]))
        while True:  # the body ends when the server closes the connection
            try:
                self._receive(started=True)
            except ConnectionClosed:
                body, self.buffer = self.buffer, b""
                headers["connection"] = ["close"]
                return status, headers, body

    def _exactly(self, length):
        while len(self.buffer) < length:
            self._receive(started=True)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def _chunked(self):
        body = []
        while True:
            while b"\r\n" not in self.buffer:
                self._receive(started=True)
            size_line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                while True:  # trailer lines, if any, up to an empty line
                    while b"\r\n" not in self.buffer:
                        self._receive(started=True)
                    trailer, self.buffer = self.buffer.split(b"\r\n", 1)
                    if not trailer:
                        return b"".join(body)
            chunk = self._exactly(size + 2)[:-2]
            body.append(chunk)

    def _receive(self, *, started):
        data = self.connection.recv(65536)
        if not data:
            if started:
                raise BrokenResponse("The server closed the connection mid-response.")
            raise ConnectionClosed("The server closed the connection.")
        self.buffer += data

    def get(self, path):
        return self._send("GET", path)

    def post(self, path, data):
        body = urlencode(data).encode()
        return self._send(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.origin,
                "Referer": self.origin + path,
            },
        )

    def register(self, slug, *, email, name="Deelnemer Benchmark", choices=None):
        """GET the registration form, POST it. Returns (GET status, POST status, Location).

        `choices` maps round field names to offering ids; by default the first offering
        of each round is chosen.
        """
        path = f"/evenementen/{slug}/aanmelden/"
        get_status, _headers, html = self.get(path)
        if get_status != 200:
            return get_status, None, None
        token = CSRF_INPUT.search(html).group(1)
        if choices is None:
            choices = {}
            for field, value in ROUND_CHOICE.findall(html):
                choices.setdefault(field, value)
        data = {
            "csrfmiddlewaretoken": token,
            "name": name,
            "email": email,
            "role": "resident",
            "consent": "on",
            "website": "",
            **{field: str(value) for field, value in choices.items()},
        }
        status, headers, _body = self.post(path, data)
        return get_status, status, headers.get("location")

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        self.buffer = b""
