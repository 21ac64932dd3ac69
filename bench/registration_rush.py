"""Benchmark 2: a registration rush through the real form, then a check of the data.

Starts PostgreSQL and gunicorn (production settings; e-mail to files; each visitor from
an address of its own, passed on as the reverse proxy does), then lets --clients
concurrent visitors register --participants people for the upcoming Dag van de Buurt copy:
each one GETs the form (CSRF cookie and token) and POSTs it with one session per round.
The 26 offerings (13 per round, 30 to 60 seats) hold fewer seats than asked for, and the
event itself takes 500, so there are waiting lists for the event and for popular sessions.
The rush starts the moment registration opens: the pages have been read before (each
worker keeps them), and at the opening they change, so each worker renders them anew while
the first visitors arrive.

Prints registrations per second and p50/p99 latency, then verifies in the database:
confirmed per offering never above capacity, first come first served (waiting lists in
arrival order), no 5xx, exactly one confirmation e-mail per registration, and no e-mail
address in the server's log.

    python bench/registration_rush.py [--participants 1000] [--clients 120] [--time-limit 300]
                                      [--rate 20] [--workers N --threads N]
                                      [--mail-worker alongside|after]
                                      [--visit form|event-page|session-page]

--visit says what each visitor does: GET and POST the form (``form``), first read the event
page (``event-page``, the opening minute as it happens), or also open the page of one
session they choose (``session-page``). The event and session pages' p50/p99 during the rush
print beside the registration's, and after the rush the event page and the form must show
exactly the seats left that the database holds.

Without --rate each client registers one participant after the other as fast as the server
answers (the server's capacity); with --rate participants arrive at that rate, and the
latencies show what a visitor waits when the site is busy but not overloaded.
"""

import argparse
import email
import email.header
import queue
import random
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.client import Browser

EVENT_PATH = f"/evenementen/{common.EVENT_SLUG}/"
DONE_PATH = f"{EVENT_PATH}aanmelden/ontvangen/"
SEATS_SHOWN = re.compile(r'class="seats seats--\w+">([^<]*)<')


def programme(postgres):
    """The event's id, title and capacity, and its rounds: {round id: [(offering id,
    session slug, seats)]}."""
    [(event_id, title, capacity)] = postgres.query(
        "SELECT id, title, capacity FROM events_event WHERE slug = %s", common.EVENT_SLUG
    )
    rows = postgres.query(
        "SELECT o.id, o.round_id, s.slug, o.capacity FROM events_sessionoffering o "
        "JOIN events_session s ON s.id = o.session_id "
        "WHERE o.event_id = %s ORDER BY o.round_id, o.order, o.id",
        event_id,
    )
    rounds = defaultdict(list)
    for offering_id, round_id, session_slug, seats in rows:
        rounds[round_id].append((offering_id, session_slug, seats))
    return event_id, title, capacity, dict(rounds)


OPENING_LEAD = 10.0  # seconds from the warm-up's start to the opening


def open_registration_in(postgres, event_id, seconds):
    """Registration for the event opens `seconds` from now: that moment (time.time())."""
    [(opens,)] = postgres.query(
        "UPDATE events_event SET registration_opens_at = now() + make_interval(secs => %s) "
        "WHERE id = %s RETURNING extract(epoch FROM registration_opens_at)",
        seconds,
        event_id,
    )
    return float(opens)


def choose(rounds, rng):
    """One offering per round, popular sessions much more wanted (weights 1/rank)."""
    chosen, sessions = {}, set()
    for round_id, offerings in rounds.items():
        candidates = [o for o in offerings if o[1] not in sessions]
        weights = [1 / (rank + 1) for rank in range(len(candidates))]
        offering_id, session_id, _seats = rng.choices(candidates, weights)[0]
        chosen[f"round_{round_id}"] = offering_id
        sessions.add(session_id)
    return chosen


def rush(server, participants, clients, time_limit, rate=None, visit="form", sessions=None):
    """Closed loop: each client registers one participant after the other, as fast as
    the server answers. With `rate`, participants arrive at that many per second
    instead (open loop), and a registration's time counts from its arrival, so that
    waiting for a free client counts too."""
    work = queue.Queue()
    for index, item in enumerate(participants):
        work.put((index, item))
    results = []
    lock = threading.Lock()
    begin = time.monotonic()
    deadline = begin + time_limit

    def client():
        browser = Browser(server.url)
        while time.monotonic() < deadline:
            try:
                index, (address, choices) = work.get_nowait()
            except queue.Empty:
                break
            browser.cookies = {}  # a new visitor
            browser.address = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
            browser.timings = []
            started = time.monotonic()
            if rate:
                arrival = begin + index / rate
                time.sleep(max(0.0, arrival - started))
                started = arrival
            try:
                if visit != "form":
                    browser.get(EVENT_PATH)
                if visit == "session-page":
                    browser.get(f"{EVENT_PATH}sessies/{sessions[address]}/")
                get_status, post_status, location = browser.register(
                    common.EVENT_SLUG, email=address, choices=choices
                )
                error = None
            except Exception as exc:  # a dropped connection counts as a failure
                get_status = post_status = location = None
                error = repr(exc)
                browser.close()
            finished = time.monotonic()
            form = [t[3] for t in browser.timings if "/aanmelden/" in t[1]]
            post = [t for t in browser.timings if t[0] == "POST"]
            post_sent = finished - post[-1][3] if post else finished
            with lock:
                results.append(
                    {
                        "email": address,
                        "get": get_status,
                        "post": post_status,
                        "location": location,
                        "error": error,
                        "started": started,
                        "post_sent": post_sent,
                        "form_time": sum(form),
                        "finished": finished,
                        "timings": list(browser.timings),
                    }
                )
        browser.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - begin


VISITS = {
    "form": "GET and POST the form",
    "event-page": "GET the event page, then GET and POST the form",
    "session-page": "GET the event page and one session page, then GET and POST the form",
}


def opening_second(done):
    """The registrations of those who arrived in the first second after the opening, when
    each worker renders the changed pages anew, beside those of everyone after them."""
    opening = min(r["started"] for r in done)
    first = [r for r in done if r["started"] < opening + 1]
    later = [r for r in done if r["started"] >= opening + 1]
    parts = []
    for label, group in [("first second after the opening", first), ("after it", later)]:
        if group:
            registration = common.percentile([r["form_time"] for r in group], 0.99) * 1000
            parts.append(f"{label}: {len(group)} visitors, registration p99 {registration:.0f} ms")
            pages = [t[3] for r in group for t in r["timings"] if t[1] == EVENT_PATH]
            if pages:
                parts[-1] += f", event page p99 {common.percentile(pages, 0.99) * 1000:.0f} ms"
    return "; ".join(parts)


def first_sessions(rounds, participants):
    """{address: the slug of the session a participant chose first}: the page they open."""
    slugs = {o[0]: o[1] for offerings in rounds.values() for o in offerings}
    return {address: slugs[next(iter(choices.values()))] for address, choices in participants}


def seats_shown_problems(server, postgres, event_id):
    """The seats left that the event page and the form show, against the database's."""
    rows = postgres.query(
        "SELECT o.capacity - COUNT(c.id) FILTER (WHERE c.status = 'confirmed') "
        "FROM events_sessionoffering o LEFT JOIN registrations_sessionchoice c "
        "ON c.offering_id = o.id WHERE o.event_id = %s AND o.capacity IS NOT NULL "
        "GROUP BY o.id",
        event_id,
    )
    expected = sorted(max(left, 0) for (left,) in rows)
    problems = []
    browser = Browser(server.url)
    # The event page shows each offering's seats twice: in the overview per round and in
    # the detailed programme; the form once.
    for path, times in [(EVENT_PATH, 2), (f"{EVENT_PATH}aanmelden/", 1)]:
        _status, _headers, html = browser.get(path)
        numbers = [re.search(r"\d+", text) for text in SEATS_SHOWN.findall(html)]
        shown = sorted(int(number.group(0)) if number else 0 for number in numbers)  # 0: full
        if shown != sorted(expected * times):
            problems.append(f"{path} shows seats left {shown}, the database holds {expected}")
    browser.close()
    if not problems:
        common.log("seats shown on the event page and the form: exactly the database's")
    return problems


def verify(postgres, event_id, capacity, results, mail_dir, log_lines, title):
    problems = []
    by_email = {r["email"]: r for r in results}
    statuses = Counter((r["get"], r["post"]) for r in results)
    fivexx = [r for r in results if (r["get"] or 0) >= 500 or (r["post"] or 0) >= 500]
    errors = [r for r in results if r["error"]]
    ok = [r for r in results if r["post"] == 302 and r["location"] == DONE_PATH]
    common.log(f"client outcomes (GET, POST): {dict(statuses)}; transport errors {len(errors)}")
    if fivexx:
        problems.append(f"{len(fivexx)} responses with 5xx")
    if errors:
        problems.append(f"{len(errors)} transport errors, e.g. {errors[0]['error']}")
    logged_5xx = [line for line in log_lines if '" 5' in line and "gunicorn.access" in line]
    if logged_5xx:
        problems.append(f"{len(logged_5xx)} 5xx lines in the gunicorn access log")

    registrations, seat_checks = seat_problems(postgres, event_id, capacity, by_email)
    problems += seat_checks
    if len(registrations) != len(ok):
        problems.append(f"{len(registrations)} registrations stored, {len(ok)} redirects to done")

    messages = read_mail(mail_dir)
    subject = f"Je aanmelding voor {title}"
    confirmations = Counter(to for to, subj in messages if subj == subject)
    stored = {r[1] for r in registrations}
    wrong = {a: n for a, n in confirmations.items() if n != 1}
    missing = stored - set(confirmations)
    extra = set(confirmations) - stored
    common.log(
        f"e-mail: {len(messages)} messages, {len(confirmations)} addresses with a "
        f"confirmation, {len(wrong)} with more than one, {len(missing)} registrations without"
    )
    if wrong or missing or extra or len(messages) != len(stored):
        problems.append("not exactly one confirmation e-mail per registration")

    leaked = [line for line in log_lines if "@example.nl" in line]
    if leaked:
        problems.append(f"{len(leaked)} log lines with an e-mail address")
    return problems


def seat_problems(postgres, event_id, capacity, by_email=None):
    """The event's registrations (id, email, status, created_at), and what is wrong with
    its seats in the database: the event and each offering never over capacity, nobody
    waiting while a seat is free, waiting lists first come, first served (and, with
    `by_email` {address: client result}, in the order the clients' posts arrived)."""
    problems = []
    by_email = by_email or {}
    registrations = postgres.query(
        "SELECT id, email, status, created_at FROM registrations_registration "
        "WHERE event_id = %s ORDER BY created_at, id",
        event_id,
    )
    confirmed = [r for r in registrations if r[2] == "confirmed"]
    waiting = [r for r in registrations if r[2] == "waiting"]
    common.log(f"event: {len(confirmed)} confirmed (capacity {capacity}), {len(waiting)} waiting")
    if capacity is not None and len(confirmed) > capacity:
        problems.append("event over capacity")
    if confirmed and waiting and max(r[3] for r in confirmed) > min(r[3] for r in waiting):
        problems.append("event: someone who came later got a seat before someone waiting")
    if capacity is not None and waiting and len(confirmed) < capacity:
        problems.append("event: people wait while seats are free")
    inversions = arrival_inversions([by_email[r[1]] for r in registrations if r[1] in by_email])
    if inversions:
        problems.append(f"event queue: {inversions} out of arrival order")

    choices = postgres.query(
        "SELECT c.offering_id, o.capacity, c.status, r.status, c.created_at, r.email "
        "FROM registrations_sessionchoice c "
        "JOIN registrations_registration r ON r.id = c.registration_id "
        "JOIN events_sessionoffering o ON o.id = c.offering_id "
        "WHERE r.event_id = %s ORDER BY c.created_at, c.id",
        event_id,
    )
    per_offering = defaultdict(list)
    for offering_id, seats, status, reg_status, created_at, address in choices:
        per_offering[offering_id].append((seats, status, reg_status, created_at, address))
    full = 0
    worst = 0
    for offering_id, rows in per_offering.items():
        seats = rows[0][0]
        taken = sum(1 for row in rows if row[1] == "confirmed")
        waiting_here = [row for row in rows if row[1] == "waiting" and row[2] == "confirmed"]
        worst = max(worst, taken - (seats or taken))
        if seats is not None and taken > seats:
            problems.append(f"offering {offering_id}: {taken} confirmed, {seats} seats")
        if seats is not None and waiting_here and taken < seats:
            problems.append(f"offering {offering_id}: people wait while seats are free")
        if seats is not None and taken == seats:
            full += 1
        confirmed_times = [row[3] for row in rows if row[1] == "confirmed"]
        if confirmed_times and waiting_here and max(confirmed_times) > waiting_here[0][3]:
            problems.append(f"offering {offering_id}: waiting list not first come, first served")
        queue_rows = [by_email[row[4]] for row in rows if row[4] in by_email]
        if arrival_inversions(queue_rows):
            problems.append(f"offering {offering_id}: queue out of arrival order")
    common.log(
        f"offerings: {len(per_offering)} chosen, {full} full; most over capacity: {worst} "
        f"(0 = never over)"
    )

    return registrations, problems


def arrival_inversions(queue_results):
    """Pairs in the stored queue where the later one was answered before the earlier was
    even sent: the only order a client can prove."""
    inversions = 0
    earliest_finish_after = float("inf")
    for result in reversed(queue_results):
        if earliest_finish_after < result["post_sent"]:
            inversions += 1
        earliest_finish_after = min(earliest_finish_after, result["finished"])
    return inversions


def read_mail(mail_dir):
    """(recipient, subject) per message; personal-link e-mails get "(link) " in front."""
    separator = b"\n" + b"-" * 79 + b"\n"
    messages = []
    for path in sorted(Path(mail_dir).glob("*.log")):
        for chunk in path.read_bytes().split(separator):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk)
            subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
            # The confirmation carries the calendar invitation; the personal-link e-mail
            # (same subject, sent when someone registers again) does not.
            calendar = any(part.get_filename() == "uitnodiging.ics" for part in message.walk())
            messages.append((message["To"], subject if calendar else f"(link) {subject}"))
    return messages


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=120)
    parser.add_argument("--time-limit", type=int, default=300, help="stop starting new ones")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument(
        "--rate",
        type=float,
        help="participants arriving per second (open loop); default: as fast as answered",
    )
    parser.add_argument(
        "--visit",
        choices=list(VISITS),
        default="form",
        help="what each visitor does (default: form)",
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: config)")
    parser.add_argument("--threads", type=int, help="gunicorn threads (default: config)")
    parser.add_argument(
        "--mail-worker",
        choices=["alongside", "after"],
        default="alongside",
        help="run the outbox worker during the rush (at idle CPU priority, on the same "
        "cores, pausing while e-mails are queued: see --busy-share), "
        "or start it when the rush is over, as a worker on a machine of its own "
        "would leave the app server's cores alone (default: alongside)",
    )
    parser.add_argument(
        "--busy-share",
        type=float,
        default=0.2,
        help="share of the time the outbox worker works while e-mails are being queued "
        "(send_queued_email --busy-share; default: 0.2, the production default)",
    )
    parser.add_argument(
        "--busy-loops",
        type=int,
        default=0,
        help="busy Python loops at normal priority during the rush, standing in for a "
        "shared or slower machine (default: none)",
    )
    args = parser.parse_args()

    with common.stack(
        workers=args.workers,
        threads=args.threads,
        # Each visitor from an address of its own, behind the proxy (Browser.address), so
        # that the production rate limit counts them as it counts real visitors.
        DJANGO_TRUSTED_PROXY_COUNT="1",
        DJANGO_EMAIL_DELIVERY="queue",
    ) as (postgres, server, workdir):
        mail_worker = common.MailWorker(server.env, workdir, busy_share=args.busy_share)
        if args.mail_worker == "alongside":
            mail_worker.start()
        try:
            return measure(args, postgres, server, workdir, mail_worker)
        finally:
            mail_worker.stop()


def measure(args, postgres, server, workdir, mail_worker):
    common.print_facts(common.machine_facts(postgres))
    event_id, title, capacity, rounds = programme(postgres)
    seats = sum(o[2] or 0 for offerings in rounds.values() for o in offerings)
    common.log(
        f"{title}: capacity {capacity}, {sum(len(o) for o in rounds.values())} offerings "
        f"in {len(rounds)} rounds with {seats} seats; {args.participants} participants "
        f"want {args.participants * len(rounds)} session seats"
    )
    rng = random.Random(args.seed)
    participants = [
        (f"rush-{number:05d}@example.nl", choose(rounds, rng))
        for number in range(args.participants)
    ]
    # The rush starts the moment registration opens. Before that the pages have been read
    # (every worker keeps them, showing when registration opens); at the opening they
    # change, and each worker renders them anew while the first visitors arrive.
    opens = open_registration_in(postgres, event_id, OPENING_LEAD)
    sessions = first_sessions(rounds, participants)
    warm = Browser(server.url)
    for _ in range(2 * server.workers()):
        if args.visit != "form":
            warm.get(EVENT_PATH)
        if args.visit == "session-page":
            for slug in set(sessions.values()):
                warm.get(f"{EVENT_PATH}sessies/{slug}/")
        warm.get(f"/evenementen/{common.EVENT_SLUG}/aanmelden/")
        warm.close()
    if time.time() > opens:
        sys.exit(f"The warm-up took longer than {OPENING_LEAD:g} s: the rush missed the opening.")
    time.sleep(opens - time.time() + 0.01)

    arrivals = f", arriving at {args.rate:g} per second" if args.rate else ""
    common.log(
        f"rush: {args.participants} participants, {args.clients} concurrent clients{arrivals}; "
        f"each visitor: {VISITS[args.visit]}"
    )
    client_cpu = time.process_time()
    with common.OtherLoad(postgres) as load, common.BusyLoops(args.busy_loops) as busy:
        app_cpu, database_cpu = sum(server.worker_cpu().values()), postgres.cpu_seconds()
        results, elapsed = rush(
            server,
            participants,
            args.clients,
            args.time_limit,
            args.rate,
            visit=args.visit,
            sessions=sessions,
        )
        app_cpu = sum(server.worker_cpu().values()) - app_cpu
        database_cpu = postgres.cpu_seconds() - database_cpu
    client_cpu = time.process_time() - client_cpu
    if args.mail_worker == "after":
        mail_worker.start()
    mail_wait = mail_worker.wait_until_sent(postgres)
    mail_cpu = mail_worker.cpu_seconds()
    done = [r for r in results if r["post"] == 302]
    per_registration = [r["finished"] - r["started"] for r in done]
    gets = [t[3] for r in results for t in r["timings"] if t[0] == "GET" and "/aanmelden/" in t[1]]
    posts = [t[3] for r in results for t in r["timings"] if t[0] == "POST"]
    event_pages = [t[3] for r in results for t in r["timings"] if t[1] == EVENT_PATH]
    session_pages = [t[3] for r in results for t in r["timings"] if "/sessies/" in t[1]]
    print()
    print(f"registrations completed: {len(done)} of {args.participants} in {elapsed:.1f} s")
    print(f"registrations per second: {len(done) / elapsed:.1f}")
    print(load.summary())
    if args.busy_loops:
        print(busy.summary())
    print(f"the load generator itself (this process) used {client_cpu:.1f} CPU-s")
    if done:
        print(
            f"CPU per registration during the rush: gunicorn workers "
            f"{app_cpu / len(done) * 1000:.1f} ms, PostgreSQL {database_cpu / len(done) * 1000:.1f}"
            " ms (with the outbox worker's queries when it runs alongside)"
        )
    worker = {
        "alongside": "outbox worker alongside, at idle CPU priority, busy share "
        f"{args.busy_share:g}",
        "after": "outbox worker started after the rush",
    }[args.mail_worker]
    print(
        f"confirmation e-mails ({worker}): all sent "
        + (f"{mail_wait:.1f} s after the rush" if mail_wait is not None else "NOT within 300 s")
        + (
            f"; the worker used {mail_cpu / len(done) * 1000:.1f} ms of CPU per e-mail"
            if done
            else ""
        )
    )
    for name, values in [
        ("visit (arrival to done)", per_registration),
        ("registration (GET + POST)", [r["form_time"] for r in done]),
        ("GET form", gets),
        ("POST form", posts),
        ("GET event page", event_pages),
        ("GET session page", session_pages),
    ]:
        if not values:
            continue
        print(
            f"{name:26} p50 {common.percentile(values, 0.5) * 1000:7.0f} ms   "
            f"p99 {common.percentile(values, 0.99) * 1000:7.0f} ms"
        )
    if done:
        print(opening_second(done))
    print()
    common.print_worker_memory(server, "registration rush")
    time.sleep(1)  # let the last access-log lines reach the file
    problems = verify(
        postgres,
        event_id,
        capacity,
        results,
        Path(workdir) / "mail",
        server.log_lines() + mail_worker.log_lines(),
        title,
    )
    problems += seats_shown_problems(server, postgres, event_id)
    print()
    if problems:
        print("VERIFICATION FAILED:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(
        "VERIFIED: capacities respected, first come first served, no 5xx, "
        "one confirmation e-mail per registration, no e-mail addresses in the log"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
