"""Benchmark 1: the programme (event) page against the machine's ceiling.

Starts PostgreSQL and gunicorn (production settings), then runs wrk against
  1. /_bench/ceiling: a bare Django view through the full middleware stack (the ceiling),
  2. the Dag van de Buurt event page as anonymous visitors see it (page cache on),
  3. the same page for a visitor with a session cookie (always rendered, with the programme
     kept per programme generation), and rendered from scratch (a new query string each
     time: nothing kept),
  4. the registration form as anonymous visitors see it (kept per programme, its seats
     filled in for every response),
and prints requests per second, p50/p99 and the ratio to the ceiling. Afterwards it
registers one participant through the form and checks that the very next view of the
event page and of the form shows exactly the seats left that the database holds.

wrk opens all its connections at once and keeps them; which worker accepts each is a race,
and sometimes one worker takes nearly all, so that the line runs on one core. The script
prints the CPU time of each worker per line, and repeats an attempt (up to --attempts) in
which that happened or other processes loaded the machine; every attempt is logged.

    python bench/programme_page.py [--duration 10] [--connections 32]
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.client import Browser

SEATS = re.compile(r"(\d+) plek(?:ken)? vrij")
CEILING = "ceiling (bare Django view)"
PAGE = "event page, anonymous (page cache)"
FROM_SCRATCH = "event page, rendered from scratch"


# A new query string for every request: nothing of the page is kept (the programme kept per
# generation is keyed by the full path too), so every response is rendered from scratch.
NEW_QUERY_EACH_TIME = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, wrk.path .. "?fresh=" .. math.random(1, 1000000000) .. counter)
end
"""


def wrk(url, *, duration, connections, headers=(), script=None):
    command = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    for header in [*common.PROXY_HEADERS.items(), *headers]:
        command += ["-H", f"{header[0]}: {header[1]}"]
    if script:
        script_path = Path(tempfile.gettempdir()) / "bench-wrk-script.lua"
        script_path.write_text(script)
        command += ["-s", str(script_path)]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
    if "Latency Distribution" not in output:
        raise RuntimeError(f"wrk gave no latency distribution:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {
        pct: _ms(value)
        for pct, value in re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)\s*$", output, re.M)
    }
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50": latency["50"],
        "p99": latency["99"],
        "requests": requests,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "timeouts": int(re.search(r"timeout (\d+)", socket_errors.group(1)).group(1))
        if socket_errors
        else 0,
    }


def spread(before, after):
    """CPU seconds each worker used between two readings, busiest first."""
    return sorted((after[pid] - before.get(pid, 0) for pid in after), reverse=True)


def one_worker(spread):
    """Whether one worker did more than three quarters of a line's work."""
    return sum(spread) > 0 and spread[0] > 0.75 * sum(spread)


def _ms(value):
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def seats_on_page(server, path=f"/evenementen/{common.EVENT_SLUG}/"):
    browser = Browser(server.url)
    status, headers, html = browser.get(path)
    assert status == 200, status
    return [int(n) for n in SEATS.findall(html)], headers.get("x-page-cache")


def seats_in_database(postgres):
    [(event_left,)] = postgres.query(
        "SELECT e.capacity - count(r.id) FILTER (WHERE r.status = 'confirmed') "
        "FROM events_event e LEFT JOIN registrations_registration r ON r.event_id = e.id "
        "WHERE e.slug = %s GROUP BY e.id",
        common.EVENT_SLUG,
    )
    offerings = postgres.query(
        "SELECT o.capacity - count(c.id) FILTER (WHERE c.status = 'confirmed') "
        "FROM events_sessionoffering o JOIN events_event e ON e.id = o.event_id "
        "LEFT JOIN registrations_sessionchoice c ON c.offering_id = o.id "
        "WHERE e.slug = %s AND o.capacity IS NOT NULL GROUP BY o.id",
        common.EVENT_SLUG,
    )
    return event_left, sorted(left for (left,) in offerings if left > 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="repeat while other processes load the machine, or a line ran on one worker",
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: config)")
    parser.add_argument("--threads", type=int, help="gunicorn threads (default: config)")
    args = parser.parse_args()

    with common.stack(workers=args.workers, threads=args.threads) as (postgres, server, _workdir):
        common.print_facts(common.machine_facts(postgres))
        page = f"{server.url}/evenementen/{common.EVENT_SLUG}/"
        common.log("warming up: every worker renders the page once")
        warm = Browser(server.url)
        for _ in range(4 * server.workers()):
            warm.get(f"/evenementen/{common.EVENT_SLUG}/")
            warm.get("/_bench/ceiling")
            warm.close()  # a new connection, so that other workers get requests too

        best = None
        for attempt in range(1, args.attempts + 1):
            results = {}
            with common.OtherLoad(postgres) as load:
                for name, url, headers in [
                    (CEILING, server.url + "/_bench/ceiling", ()),
                    (PAGE, page, ()),
                    (
                        "event page, with session cookie (rendered)",
                        page,
                        [("Cookie", "sessionid=x")],
                    ),
                    (
                        FROM_SCRATCH,
                        page,
                        [("Cookie", "sessionid=x")],
                    ),
                    ("registration form, anonymous (seat slots)", page + "aanmelden/", ()),
                ]:
                    common.log(f"wrk {args.duration}s, {args.connections} connections: {name}")
                    cpu_before = server.worker_cpu()
                    results[name] = wrk(
                        url,
                        duration=args.duration,
                        connections=args.connections,
                        headers=headers,
                        script=NEW_QUERY_EACH_TIME if name == FROM_SCRATCH else None,
                    )
                    results[name]["spread"] = spread(cpu_before, server.worker_cpu())
                    common.print_worker_memory(server, name)
            lopsided = [name for name, result in results.items() if one_worker(result["spread"])]
            ratio = results[PAGE]["rps"] / results[CEILING]["rps"]
            common.log(
                f"attempt {attempt}: event page {ratio:.0%} of the ceiling; lines that ran on "
                f"one worker: {', '.join(lopsided) or 'none'}; {load.summary()}"
            )
            # Rather an attempt without foreign load, then one whose lines spread over
            # the workers, as clients that connect one by one do.
            rank = (load.share >= 0.05, bool(lopsided), load.share)
            if best is None or rank < best[0]:
                best = (rank, results, load)
            if rank[:2] == (False, False):
                break
        _rank, results, load = best

        ceiling = results[CEILING]["rps"]
        print()
        print(f"chosen attempt: {load.summary()}")
        print(
            f"{'':45} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'non-2xx':>8} "
            f"{'timeouts':>8}  CPU-s per worker"
        )
        for name, result in results.items():
            print(
                f"{name:45} {result['rps']:9.0f} {result['p50']:8.2f} {result['p99']:8.2f} "
                f"{result['rps'] / ceiling:6.0%} {result['non_2xx']:8d} {result['timeouts']:8d}  "
                + " ".join(f"{seconds:.1f}" for seconds in result["spread"])
            )
        print(
            "(wrk opens its connections at once and keeps them: when most land on one worker, "
            "that line runs on one core, as CPU-s per worker show; such an attempt is repeated.)"
        )
        print()

        common.log("seats exact after a registration?")
        before, cache_state = seats_on_page(server)
        browser = Browser(server.url)
        outcome = browser.register(common.EVENT_SLUG, email="bench-check@example.nl")
        after, cache_after = seats_on_page(server)
        form_after, form_cache = seats_on_page(
            server, f"/evenementen/{common.EVENT_SLUG}/aanmelden/"
        )
        event_left, offerings_left = seats_in_database(postgres)
        # The event page shows each offering's seats twice: in the overview per round and
        # in the detailed programme.
        exact = sorted(after) == sorted([event_left, *offerings_left, *offerings_left])
        form_exact = sorted(form_after) == offerings_left
        common.log(
            f"registration form after it: kept page {form_cache}, seats left add up to "
            f"{sum(form_after)}, database {sum(offerings_left)}"
        )
        common.log(
            f"before: page cache {cache_state}, seats left on the page add up to {sum(before)}; "
            f"registered ({outcome}); after: page cache {cache_after}, page {sum(after)}, "
            f"database {event_left + sum(offerings_left)} (event {event_left})"
        )
        print(f"SEATS EXACT AFTER REGISTRATION: {'yes' if exact and form_exact else 'NO'}")
        common.print_worker_memory(server, "programme benchmark")
        return 0 if exact and form_exact else 1


if __name__ == "__main__":
    sys.exit(main())
