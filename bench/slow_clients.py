"""Slow clients: 50 connections that trickle their requests, with and without nginx.

Starts PostgreSQL and gunicorn (production settings, config/gunicorn.conf.py: 3 workers x 4
threads on 2 cores) and nginx from config/nginx.conf in front of it (bench/proxy.py), then
runs the same attack twice, first through nginx, then straight at gunicorn:

- --slow connections (default 50) stay open all the time: four in five send a request
  head one header line per --interval seconds and never finish it ("slowloris"), one in
  five sends a complete head for a registration POST with a large Content-Length and then
  its body a few bytes per --interval. A connection the server closes is opened again at once;
- meanwhile (and for --idle seconds before, without the slow connections) a prober asks
  /healthz and the Dag van de Buurt event page one after the other, each on a new
  connection (TLS through nginx), with a --probe-timeout.

Prints, per run and page, the answers, p50/p99/max and how many took more than 1 s or got
no answer in time. Nothing is asserted: the figures are the result (docs/benchmarks.md).

    python bench/slow_clients.py [--slow 50] [--duration 20] [--interval 1]
"""

import argparse
import contextlib
import ssl
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, proxy

EVENT_PAGE = f"/evenementen/{common.EVENT_SLUG}/"
FORM = f"/evenementen/{common.EVENT_SLUG}/aanmelden/"


class SlowClients:
    """`count` connections to `base_url` that never finish their requests."""

    def __init__(self, base_url, count, interval):
        self.base_url, self.count, self.interval = base_url, count, interval
        self.stop = threading.Event()
        self.opened = Counter()  # kind -> connections opened
        self.closed_by_server = Counter()
        self.lock = threading.Lock()
        self.threads = []

    def __enter__(self):
        for number in range(self.count):
            kind = "body" if number % 5 == 4 else "head"
            thread = threading.Thread(target=self._trickle, args=(kind,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()
        return False

    def _head(self, kind):
        host = self.base_url.split("://", 1)[1]
        if kind == "head":
            return f"GET {EVENT_PAGE} HTTP/1.1\r\nHost: {host}\r\n".encode()
        return (
            f"POST {FORM} HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-Proto: https\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
            "name="
        ).encode()

    def _trickle(self, kind):
        while not self.stop.is_set():
            try:
                sock = proxy.connect(self.base_url, timeout=self.interval + 5)
            except OSError:
                self.stop.wait(0.1)
                continue
            with self.lock:
                self.opened[kind] += 1
            try:
                sock.sendall(self._head(kind))
                sent = 0
                while not self.stop.wait(self.interval):
                    sent += 1
                    sock.sendall(f"X-Slow-{sent}: x\r\n".encode() if kind == "head" else b"xxxxx")
                    if _closed(sock):
                        raise ConnectionResetError
            except OSError:
                with self.lock:
                    self.closed_by_server[kind] += 1
            finally:
                with contextlib.suppress(OSError):
                    sock.close()


def _closed(sock):
    """Whether the server has answered (a 408, say) or closed: reading would not block."""
    sock.setblocking(False)
    try:
        return sock.recv(1) is not None
    except (BlockingIOError, TimeoutError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def get(url, timeout):
    """(status, seconds); status "no answer" when it took longer than `timeout`."""
    start = time.perf_counter()
    try:
        if url.startswith("https://"):
            status = proxy.https_get(url, timeout=timeout)[0]
        else:
            status = common.request("GET", url, timeout=timeout)[0]
    except TimeoutError:
        status = "no answer"
    except OSError as exc:
        status = type(exc).__name__
    return status, time.perf_counter() - start


def attack(base_url, args, slow_count, duration):
    """Probe timings {path: [(status, seconds)]} while `slow_count` slow clients hold on."""
    timings = {"/healthz": [], EVENT_PAGE: []}
    with SlowClients(base_url, slow_count, args.interval) as slow:
        if slow_count:
            time.sleep(3)  # all slow connections open first
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            for path, results in timings.items():
                results.append(get(base_url + path, args.probe_timeout))
            time.sleep(0.2)
    return timings, slow


def report(label, timings, slow):
    print(
        f"{label}: slow connections opened {dict(slow.opened)}, "
        f"closed by the server {dict(slow.closed_by_server)}"
    )
    for path, results in timings.items():
        seconds = [s for _status, s in results]
        statuses = Counter(status for status, _s in results)
        print(
            f"  {path:36} {len(results):4d} probes  p50 {common.percentile(seconds, 0.5):6.3f} s"
            f"  p99 {common.percentile(seconds, 0.99):6.3f} s  max {max(seconds):6.3f} s"
            f"  over 1 s: {sum(1 for s in seconds if s > 1):3d}  answers {dict(statuses)}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slow", type=int, default=50, help="slow connections")
    parser.add_argument("--duration", type=float, default=20, help="seconds of probing per run")
    parser.add_argument("--idle", type=float, default=5, help="seconds of probing without")
    parser.add_argument("--interval", type=float, default=1, help="seconds between trickles")
    parser.add_argument("--probe-timeout", type=float, default=5)
    args = parser.parse_args()

    with (
        common.stack(DJANGO_TRUSTED_PROXY_COUNT="1") as (postgres, server, workdir),
        proxy.running(server, workdir) as nginx,
    ):
        common.print_facts(common.machine_facts(postgres))
        common.log(f"nginx: {proxy.nginx_version()}")
        for url in (nginx.url, server.url):  # every worker has rendered the page once
            for _ in range(2 * server.workers()):
                get(url + EVENT_PAGE, args.probe_timeout)
        runs = []
        with common.OtherLoad(postgres) as load:
            for label, url in [("through nginx", nginx.url), ("straight to gunicorn", server.url)]:
                common.log(f"no slow connections, {label}, probing for {args.idle:g} s")
                runs.append((f"{label}, no slow connections", *attack(url, args, 0, args.idle)))
                common.log(f"{args.slow} slow connections {label}, probing for {args.duration:g} s")
                runs.append(
                    (f"{label}, {args.slow} slow", *attack(url, args, args.slow, args.duration))
                )
        print()
        print(load.summary())
        for run in runs:
            report(*run)
        errors = [line for line in nginx.error_log() if "[error]" in line or "[crit]" in line]
        print(f"nginx error log: {len(errors)} error lines")
        for line in errors[:5]:
            print(f"  {line}")
        common.print_worker_memory(server, "slow clients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
