"""Fault runs: people keep registering while something breaks; then the data is checked.

Starts PostgreSQL and gunicorn (production settings, e-mail sent right after each commit),
lets --clients visitors register through the real form (a new address each time, one
session per round, popular sessions much more wanted: they fill up and get waiting lists,
and after 500 registrations the event does) and a prober ask /healthz every 0.1 s, and
--fault-at seconds in:

- ``--fault restart`` (default): stops PostgreSQL (``pg_ctl stop -m fast``: open
  transactions are cut off), keeps it down for --outage seconds, starts it again;
- ``--fault worker-kill``: kills one gunicorn worker (SIGKILL) in the middle of its
  requests; the master starts a new one;
- ``--fault cancellations``: once sessions are full and people wait for them, cancels
  registrations that hold a seat in such a session through their personal link, five a
  second, while the registrations go on: each freed seat must go to the first in line.
  For this run the event has 150 seats and each session a quarter of its seats, so that
  both fill within seconds.

A visitor who gets the 503 page or loses the connection sends the same form again a second
later, as a person would. The load runs for --duration seconds in all. Then it checks:

- answers: only 200 and 302, plus the Dutch 503 page during the outage; a dropped
  connection only in the seconds after the worker was killed;
- /healthz: 503 during the outage, 200 before and after (and throughout otherwise);
- recovery: registrations succeed after the fault with the same gunicorn master and
  workers (after a kill: the others unchanged, the killed one replaced);
- every visitor who saw the confirmation page has a stored registration with exactly the
  sessions chosen, each once; every stored registration was posted by a visitor who saw
  the confirmation page, or a failure just before the load stopped; one per address;
  the cancelled ones are exactly those cancelled, with all their sessions;
- seats: the event and every offering within capacity, nobody waiting while a seat is
  free, waiting lists first come, first served (bench/registration_rush.py);
- every status change in the database (a trigger of this run logs them): none other than
  new, waiting -> confirmed (a promotion) and -> cancelled; every promoted person got "a
  place has become available"; the cancellation run promoted someone;
- e-mail: exactly one confirmation per stored registration, a cancellation e-mail per
  cancelled one; what the fault left in the outbox is sent by one run of the cron job
  (``send_queued_email``) at the end; no e-mail address in the server's log.

    python bench/fault_restart.py [--fault restart|worker-kill|cancellations] [--clients 20]
                                  [--duration 20] [--fault-at 5] [--outage 4]
"""

import argparse
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.client import CSRF_INPUT, Browser
from bench.registration_rush import DONE_PATH, choose, programme, read_mail, seat_problems

OUTAGE_PAGE = "Tijdelijk niet beschikbaar"
# Seconds after a worker was killed in which a dropped connection is expected: the killed
# worker's requests and the connections it had accepted.
KILL_GRACE = 3

# Every status a registration or session choice is given, with the time.
STATUS_LOG = """
CREATE TABLE bench_status_change (
    tbl text, row_id bigint, registration_id bigint, old_status text, new_status text,
    at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION bench_log_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_status_change (tbl, row_id, registration_id, old_status, new_status)
    VALUES (TG_TABLE_NAME, NEW.id,
            coalesce((to_jsonb(NEW) ->> 'registration_id')::bigint, NEW.id),
            CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_log_status AFTER INSERT OR UPDATE OF status
    ON registrations_registration FOR EACH ROW EXECUTE FUNCTION bench_log_status();
CREATE TRIGGER bench_log_status AFTER INSERT OR UPDATE OF status
    ON registrations_sessionchoice FOR EACH ROW EXECUTE FUNCTION bench_log_status();
"""
ALLOWED_CHANGES = {
    (None, "confirmed"),
    (None, "waiting"),
    ("waiting", "confirmed"),
    ("confirmed", "cancelled"),
    ("waiting", "cancelled"),
}


def execute(postgres, sql):
    import psycopg

    with psycopg.connect(postgres.url.replace("postgres://", "postgresql://")) as conn:
        conn.execute(sql)


class Run:
    """The visitors, the prober and what they saw, in seconds since `begin`."""

    def __init__(self, server, rounds, clients):
        self.server, self.rounds, self.clients = server, rounds, clients
        self.wanted = {}  # address -> sorted offering ids chosen
        self.outcome = {}  # address -> "ok", "failed" (last attempt) or "unexpected"
        self.answers = Counter()
        self.bad = []  # (seconds, what)
        self.succeeded_at = []
        self.health = []  # (sent, answered, status)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.begin = time.monotonic()
        self.threads = []
        self.browsers = []

    def now(self):
        return time.monotonic() - self.begin

    def start(self):
        self.threads = [threading.Thread(target=self.prober)]
        self.threads += [
            threading.Thread(target=self.visitor, args=(n,)) for n in range(self.clients)
        ]
        for number, thread in enumerate(self.threads):
            thread.start()
            if number == 0:
                time.sleep(1)  # a few probes before the load starts

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def visitor(self, number):
        browser = Browser(self.server.url, timeout=30)
        with self.lock:
            self.browsers.append(browser)
        rng = random.Random(number)
        sequence = 0
        while not self.stop.is_set():
            sequence += 1
            address = f"fault-{number:03d}-{sequence:04d}@example.nl"
            choices = choose(self.rounds, rng)
            with self.lock:
                self.wanted[address] = sorted(choices.values())
            while True:
                browser.cookies = {}
                browser.timings = []
                try:
                    result = browser.register(common.EVENT_SLUG, email=address, choices=choices)
                except Exception as exc:
                    with self.lock:
                        self.bad.append((self.now(), f"transport error: {exc!r}"))
                        self.outcome[address] = "failed"
                    browser.close()
                    if self.stop.wait(1):
                        break
                    continue
                statuses = [t[2] for t in browser.timings]
                with self.lock:
                    self.answers.update(statuses)
                    self.bad.extend(
                        (self.now(), f"{method} {status}")
                        for method, _path, status, _s in browser.timings
                        if status not in {200, 302, 503}
                    )
                if result[1] == 302 and result[2] == DONE_PATH:
                    with self.lock:
                        self.outcome[address] = "ok"
                        self.succeeded_at.append(self.now())
                    break
                if 503 in statuses:
                    with self.lock:
                        self.outcome[address] = "failed"
                    if self.stop.wait(1):  # the page says: try again in a minute
                        break
                    continue
                with self.lock:
                    self.outcome[address] = "unexpected"
                    self.bad.append((self.now(), f"unexpected outcome {result}"))
                break

    def prober(self):
        while not self.stop.is_set():
            sent = self.now()
            try:
                status = common.request("GET", self.server.url + "/healthz", timeout=10)[0]
            except TimeoutError:
                status = "slow"
            except OSError as exc:
                status = type(exc).__name__
            self.health.append((sent, self.now(), status))
            time.sleep(0.1)


# ------------------------------------------------------------------------- the faults


def restart(run, args, postgres, server):
    """PostgreSQL down for `args.outage` seconds. Returns what the checks need."""
    down_at = run.now()
    common.log(f"stopping PostgreSQL at t={down_at:.1f}s")
    postgres.pg_ctl("stop")
    time.sleep(args.outage / 2)
    # One registration page fetched during the outage, to show its text.
    status, _headers, html = Browser(server.url).get(f"/evenementen/{common.EVENT_SLUG}/aanmelden/")
    time.sleep(args.outage / 2)
    up_at = run.now()
    common.log(f"starting PostgreSQL at t={up_at:.1f}s")
    postgres.pg_ctl("start")
    return {
        "start": down_at,
        "end": up_at,
        "recovered": run.now(),
        "outage_page": (status, OUTAGE_PAGE in html),
    }


def worker_kill(run, args, postgres, server):
    """SIGKILL to the gunicorn worker that has used most CPU (one that is busy)."""
    cpu = server.worker_cpu()
    victim = max(cpu, key=cpu.get)
    killed_at = run.now()
    common.log(f"kill -9 worker {victim} at t={killed_at:.1f}s")
    os.kill(victim, signal.SIGKILL)
    replaced_at = None
    while run.now() < killed_at + 30:
        pids = server.worker_pids()
        if victim not in pids and len(pids) == server.workers():
            replaced_at = run.now()
            break
        time.sleep(0.05)
    common.log(f"worker replaced at t={replaced_at}")
    return {"start": killed_at, "end": killed_at, "recovered": replaced_at, "victim": victim}


# The cancellation run's smaller programme: sessions full and people waiting within seconds,
# also on a busy machine. Through Django, so that the kept pages see the change.
FEWER_SEATS = f"""
from django.db.models import F
from events.models import Event, SessionOffering
event = Event.objects.get(slug="{common.EVENT_SLUG}")
Event.objects.filter(pk=event.pk).update(capacity=150)
SessionOffering.objects.filter(event=event).update(capacity=F("capacity") / 4)
"""

FULL_SESSION_SEATS = """
SELECT r.token, r.email FROM registrations_registration r
JOIN registrations_sessionchoice c ON c.registration_id = r.id AND c.status = 'confirmed'
WHERE r.event_id = %s AND r.status = 'confirmed' AND c.offering_id IN (
    SELECT w.offering_id FROM registrations_sessionchoice w
    JOIN registrations_registration wr ON wr.id = w.registration_id
    WHERE wr.event_id = %s AND w.status = 'waiting' AND wr.status = 'confirmed')
ORDER BY random() LIMIT 1
"""


def cancellations(run, args, postgres, server, event_id):
    """From the moment someone waits for a full session: five cancellations a second of
    registrations holding a seat in such a session, through the personal link's cancel page,
    until the load stops. Runs in a thread; returns the addresses cancelled (filled in)."""
    cancelled, answers = [], Counter()

    def canceller():
        browser = Browser(server.url)
        while not run.stop.is_set():
            found = postgres.query(FULL_SESSION_SEATS, event_id, event_id)
            if not found:
                run.stop.wait(0.2)
                continue
            [(token, address)] = found
            browser.cookies = {}
            path = f"/aanmelding/{token}/annuleren/"
            status, _headers, html = browser.get(path)
            answers[status] += 1
            if status == 200:
                status, headers, _body = browser.post(
                    path, {"csrfmiddlewaretoken": CSRF_INPUT.search(html).group(1)}
                )
                answers[status] += 1
                if status == 302:
                    cancelled.append(address)
            if status not in {200, 302}:
                with run.lock:
                    run.bad.append((run.now(), f"cancel: {status}"))
            run.stop.wait(0.2)

    thread = threading.Thread(target=canceller)
    thread.start()
    run.threads.append(thread)
    started = run.now()
    common.log(f"canceller started at t={started:.1f}s")
    return {
        "start": started,
        "end": started,
        "recovered": started,
        "cancelled": cancelled,
        "cancel_answers": answers,
    }


# ------------------------------------------------------------------------- the checks


def check_answers(run, fault, kind):
    problems = []
    allowed = []
    for moment, what in run.bad:
        expected = kind == "worker-kill" and "transport error" in what
        if expected and fault["start"] <= moment <= fault["start"] + KILL_GRACE:
            allowed.append(what)
            continue
        problems.append(f"t={moment:.1f}s {what}")
    if kind != "restart" and run.answers[503]:
        problems.append(f"{run.answers[503]} answers 503 without a database outage")
    return (
        [f"{len(problems)} unexpected answers, e.g. {problems[:3]}"] if problems else [],
        allowed,
    )


def check_health(run, fault, kind):
    problems = []
    if kind == "restart":
        # A probe counts for the phase it lay wholly within.
        during = [
            s for sent, done, s in run.health if fault["start"] + 0.5 < sent and done < fault["end"]
        ]
        before = [s for _sent, done, s in run.health if done < fault["start"]]
        after = [s for sent, _done, s in run.health if sent > fault["recovered"]]
        if not during or set(during) != {503}:
            problems.append(f"/healthz during the outage: {Counter(during)}")
        if fault["outage_page"] != (503, True):
            problems.append(f"registration page during the outage: {fault['outage_page']}")
    else:
        grace = KILL_GRACE if kind == "worker-kill" else 0
        before = [s for _sent, done, s in run.health if done < fault["start"]]
        after = [s for sent, _done, s in run.health if sent > fault["start"] + grace]
    # Under full load a probe may wait longer than its timeout ("slow"); it must not
    # say 503 while the database is up, nor fail to connect.
    if 200 not in before or set(before) - {200, "slow"}:
        problems.append(f"/healthz before the fault: {Counter(before)}")
    if 200 not in after or (kind != "restart" and set(after) - {200, "slow"}):
        problems.append(f"/healthz after the fault: {Counter(after)}")
    return problems, before, after


def check_workers(before, after, fault, kind):
    if kind != "worker-kill":
        return [] if after == before else [f"workers changed: {before} -> {after}"]
    kept = set(before) - {fault["victim"]}
    if fault["recovered"] is None or not kept <= set(after) or len(after) != len(before):
        return [f"the killed worker was not replaced: {before} -> {after}"]
    return []


def check_stored(run, postgres, event_id, cancelled):
    """Every success against the database, and every row against the visitors."""
    problems = []
    rows = postgres.query(
        "SELECT r.email, r.status, "
        "coalesce(array_agg(c.offering_id ORDER BY c.offering_id) "
        "FILTER (WHERE c.status <> 'cancelled'), '{}'), "
        "coalesce(array_agg(c.offering_id ORDER BY c.offering_id) "
        "FILTER (WHERE c.status = 'cancelled'), '{}') "
        "FROM registrations_registration r "
        "LEFT JOIN registrations_sessionchoice c ON c.registration_id = r.id "
        "WHERE r.event_id = %s GROUP BY r.id",
        event_id,
    )
    twice = [a for a, n in Counter(row[0] for row in rows).items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} addresses stored twice")
    stored = {address: (status, active, gone) for address, status, active, gone in rows}
    succeeded = {a for a, outcome in run.outcome.items() if outcome == "ok"}
    lost = succeeded - set(stored)
    if lost:
        problems.append(f"{len(lost)} visitors saw the confirmation page but have no row")
    never_posted = set(stored) - set(run.outcome)
    if never_posted:
        problems.append(f"{len(never_posted)} stored registrations nobody posted")
    unseen = {a for a in stored if run.outcome.get(a) == "failed"}
    wrong_sessions, wrong_status = [], []
    for address, (status, active, gone) in stored.items():
        wanted = run.wanted.get(address)
        if (status == "cancelled") != (address in cancelled):
            wrong_status.append(address)
        if status == "cancelled":
            if active or gone != wanted:
                wrong_sessions.append(address)
        elif active != wanted or gone:
            wrong_sessions.append(address)
    if wrong_sessions:
        problems.append(
            f"{len(wrong_sessions)} registrations without exactly their chosen sessions, "
            f"each once, e.g. {[stored[a] for a in wrong_sessions[:2]]}"
        )
    if wrong_status:
        problems.append(f"{len(wrong_status)} cancelled that nobody cancelled, or the reverse")
    return problems, stored, unseen


def check_changes(postgres, event_id):
    """Status changes logged by the trigger: (problems, promoted registration ids)."""
    changes = postgres.query(
        "SELECT s.tbl, s.registration_id, s.old_status, s.new_status, count(*) "
        "FROM bench_status_change s JOIN registrations_registration r "
        "ON r.id = s.registration_id WHERE r.event_id = %s "
        "AND s.old_status IS DISTINCT FROM s.new_status GROUP BY 1, 2, 3, 4",
        event_id,
    )
    problems = []
    odd = Counter(
        (tbl.split("_")[-1], old, new)
        for tbl, _reg, old, new, _n in changes
        if (old, new) not in ALLOWED_CHANGES
    )
    if odd:
        problems.append(f"status changes that should not happen: {dict(odd)}")
    promoted = {
        reg for _tbl, reg, old, new, _n in changes if (old, new) == ("waiting", "confirmed")
    }
    return problems, promoted


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fault", choices=["restart", "worker-kill", "cancellations"], default="restart"
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20, help="seconds of load in all")
    parser.add_argument("--fault-at", "--outage-at", dest="fault_at", type=float, default=5)
    parser.add_argument("--outage", type=float, default=4, help="seconds PostgreSQL is down")
    args = parser.parse_args()

    with common.stack(DJANGO_REGISTRATION_RATE_LIMIT="1000000/1m") as (postgres, server, workdir):
        common.print_facts(common.machine_facts(postgres))
        execute(postgres, STATUS_LOG)
        if args.fault == "cancellations":
            common.manage(server.env, "shell", "-c", FEWER_SEATS)
        event_id, title, capacity, rounds = programme(postgres)
        workers_before = sorted(server.worker_pids())
        run = Run(server, rounds, args.clients)
        load = common.OtherLoad(postgres).__enter__()
        run.start()
        time.sleep(args.fault_at)
        if args.fault == "restart":
            fault = restart(run, args, postgres, server)
        elif args.fault == "worker-kill":
            fault = worker_kill(run, args, postgres, server)
        else:
            fault = cancellations(run, args, postgres, server, event_id)
        time.sleep(max(0, args.duration + 1 - run.now()))
        run.finish()
        load.__exit__(None, None, None)
        common.log(f"load stopped; {load.summary()}")

        workers_after = sorted(server.worker_pids())
        problems = check_workers(workers_before, workers_after, fault, args.fault)
        answer_problems, allowed = check_answers(run, fault, args.fault)
        problems += answer_problems
        health_problems, before, after = check_health(run, fault, args.fault)
        problems += health_problems
        recovered = fault["recovered"] or float("inf")
        first_ok_after = min((t for t in run.succeeded_at if t > recovered), default=None)
        if first_ok_after is None:
            problems.append("no registration succeeded after the fault")

        cancelled = set(fault.get("cancelled", ()))
        stored_problems, stored, unseen = check_stored(run, postgres, event_id, cancelled)
        problems += stored_problems
        registrations, seat_checks = seat_problems(postgres, event_id, capacity)
        problems += seat_checks
        change_problems, promoted = check_changes(postgres, event_id)
        problems += change_problems
        if args.fault == "cancellations" and not (cancelled and promoted):
            problems.append(f"{len(cancelled)} cancelled, {len(promoted)} promoted: nothing tested")

        time.sleep(1)  # the last e-mails are written after the last responses
        # E-mails of registrations that committed just before the fault struck are still in
        # the outbox: the cron job (send_queued_email) delivers them.
        [(unsent,)] = postgres.query(
            "SELECT count(*) FROM registrations_queuedemail WHERE sent_at IS NULL"
        )
        common.manage(server.env, "send_queued_email", "-v0")
        [(left,)] = postgres.query(
            "SELECT count(*) FROM registrations_queuedemail WHERE sent_at IS NULL"
        )
        if left:
            problems.append(f"{left} e-mails still unsent after the cron job ran")
        messages = read_mail(Path(workdir) / "mail")
        subjects = Counter(subject for _to, subject in messages)
        mailed = {}
        for to, subject in messages:
            mailed.setdefault(subject, Counter())[to] += 1
        confirmations = mailed.get(f"Je aanmelding voor {title}", Counter())
        unconfirmed = set(stored) - set(confirmations)
        doubled = [a for a, n in confirmations.items() if n > 1]
        if unconfirmed or set(confirmations) - set(stored):
            problems.append(f"{len(unconfirmed)} stored registrations got no confirmation")
        if doubled:
            problems.append(f"{len(doubled)} people got two confirmations")
        cancel_mail = mailed.get(f"(link) Geannuleerd: je aanmelding voor {title}", Counter())
        if set(cancel_mail) != cancelled:
            problems.append(f"{len(cancelled - set(cancel_mail))} cancelled without an e-mail")
        emails = {reg_id: address for reg_id, address, _status, _at in registrations}
        promotion_mail = mailed.get(f"Er is een plek vrijgekomen: {title}", Counter())
        unpromoted = {emails[r] for r in promoted} - set(promotion_mail)
        if unpromoted:
            problems.append(f"{len(unpromoted)} promoted without an e-mail")
        leaked = [line for line in server.log_lines() if "@example.nl" in line]
        if leaked:
            problems.append(f"{len(leaked)} log lines with an e-mail address")

        print()
        print(f"fault: {args.fault} at t={fault['start']:.1f}s", end="")
        if args.fault == "restart":
            print(f"; PostgreSQL down until t={fault['end']:.1f}s")
        elif args.fault == "worker-kill":
            print(f"; worker {fault['victim']} replaced at t={fault['recovered']:.2f}s")
        else:
            print(f"; cancel pages answered {dict(fault['cancel_answers'])}")
        resent = sum(browser.resent for browser in run.browsers)
        print(
            f"answers: {dict(sorted(run.answers.items()))}; dropped connections (expected "
            f"within {KILL_GRACE} s of the kill): {len(allowed)}; requests sent again on a "
            f"new connection after the server closed one: {resent}"
        )
        print(f"/healthz: before {Counter(before)}, after {Counter(after)}")
        if first_ok_after is not None:
            print(f"first registration after the fault: {first_ok_after - recovered:.2f}s later")
        statuses = Counter(status for status, _active, _gone in stored.values())
        confirmed_pages = sum(outcome == "ok" for outcome in run.outcome.values())
        print(
            f"visitors who saw the confirmation page: {confirmed_pages}, every one stored; "
            f"stored registrations: {len(stored)} ({dict(statuses)}), "
            f"of which {len(unseen)} whose visitor last saw a failure as the load stopped"
        )
        print(f"cancelled: {len(cancelled)}; promoted from a waiting list: {len(promoted)}")
        links = sum(n for subject, n in subjects.items() if subject.startswith("(link) Je"))
        print(
            f"e-mails: {sum(confirmations.values())} confirmations, "
            f"{sum(promotion_mail.values())} places available, "
            f"{sum(cancel_mail.values())} cancellations, {links} personal links, "
            f"{len(messages)} in all"
        )
        print(f"e-mails left in the outbox by the fault, sent by the cron job: {unsent}")
        print(f"gunicorn workers before/after: {workers_before} / {workers_after}")
        common.print_worker_memory(server, "fault run")
        print()
        if problems:
            print(f"FAULT RUN FAILED ({args.fault}):")
            for problem in problems:
                print(f"  - {problem}")
            lines = server.log_lines()
            starts = [n for n, line in enumerate(lines) if "Internal Server Error" in line]
            print(f"\n{len(starts)} server errors in the log; the first:")
            for line in lines[starts[0] : starts[0] + 120] if starts else []:
                print(f"  {line}")
            return 1
        print(
            f"FAULT RUN OK ({args.fault}): every confirmation page has its row, nothing "
            "half-written or lost, seats and waiting lists right, self-recovered"
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
