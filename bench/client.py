"""A minimal browser for the benchmarks: keep-alive connection, cookies, CSRF form posts."""

import http.client
import re
import time
from urllib.parse import urlencode, urlsplit

from bench.common import PROXY_HEADERS

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ROUND_CHOICE = re.compile(r'name="(round_\d+)" value="(\d+)"')


class Browser:
    """One visitor: sends the cookies it was given, and Origin/Referer on POST."""

    def __init__(self, base_url, *, timeout=60):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.origin = f"https://{self.host}:{self.port}"  # as the visitor sees it, behind TLS
        self.timeout = timeout
        self.cookies = {}
        self.connection = None
        self.timings = []  # (method, path, status, seconds)

    def _send(self, method, path, *, body=None, headers=None):
        headers = {**PROXY_HEADERS, **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            start = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - start
            break
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _sep, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = None
        self.timings.append((method, path, response.status, elapsed))
        lowered = {k.lower(): v for k, v in response.getheaders()}
        return response.status, lowered, data.decode("utf-8", "replace")

    def get(self, path):
        return self._send("GET", path)

    def post(self, path, data):
        body = urlencode(data)
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
