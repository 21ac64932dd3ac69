"""Fault run: PostgreSQL goes down and comes back while people register.

Starts PostgreSQL and gunicorn (production settings), lets --clients visitors register
through the real form and a reader poll /healthz, stops PostgreSQL a few seconds in
(``pg_ctl stop -m fast``: open transactions are cut off), keeps it down for --outage
seconds, starts it again and lets the load run on. A visitor who gets a 503 page sends
the form again a second later, as a person would. Then it checks:

- every answer was 200, 302 or the Dutch 503 page: no 500, no dropped connection;
- /healthz said 503 during the outage and 200 before and after;
- the app recovered by itself: registrations succeed after the restart, with the same
  gunicorn master and workers (nothing was restarted);
- no registration is half-written: each stored one has exactly the sessions its
  visitor chose, nobody is stored twice, no offering is over capacity;
- every stored registration was e-mailed (a confirmation, or the personal link when a
  503 answered a registration that had committed), and nobody got two confirmations;
  e-mails the outage kept in the outbox are sent by one run of the cron job
  (``send_queued_email``) at the end.

    python bench/fault_restart.py [--clients 20] [--duration 20] [--outage 4]
"""

import argparse
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.client import Browser
from bench.registration_rush import choose, programme, read_mail

OUTAGE_PAGE = "Tijdelijk niet beschikbaar"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20, help="seconds of load in all")
    parser.add_argument("--outage-at", type=float, default=5)
    parser.add_argument("--outage", type=float, default=4, help="seconds PostgreSQL is down")
    args = parser.parse_args()

    with common.stack(DJANGO_REGISTRATION_RATE_LIMIT="1000000/1m") as (postgres, server, workdir):
        common.print_facts(common.machine_facts(postgres))
        event_id, title, _capacity, rounds = programme(postgres)
        workers_before = sorted(server.worker_pids())
        rng = random.Random(7)
        wanted = {}  # e-mail -> set of offering ids
        answers = Counter()
        bad = []
        succeeded_at = []
        lock = threading.Lock()
        stop = threading.Event()
        begin = time.monotonic()

        def visitor(number):
            browser = Browser(server.url, timeout=30)
            sequence = 0
            while not stop.is_set():
                sequence += 1
                address = f"fault-{number:03d}-{sequence:04d}@example.nl"
                choices = choose(rounds, rng)
                with lock:
                    wanted[address] = set(choices.values())
                for _attempt in range(30):
                    browser.cookies = {}
                    browser.timings = []
                    try:
                        result = browser.register(common.EVENT_SLUG, email=address, choices=choices)
                    except Exception as exc:
                        with lock:
                            bad.append(f"transport error: {exc!r}")
                        browser.close()
                        time.sleep(1)
                        continue
                    statuses = [t[2] for t in browser.timings]
                    with lock:
                        answers.update(statuses)
                        bad.extend(
                            f"{method} {status}"
                            for method, _path, status, _s in browser.timings
                            if status not in {200, 302, 503}
                        )
                    if result[1] == 302:
                        with lock:
                            succeeded_at.append(time.monotonic() - begin)
                        break
                    if 503 in statuses:
                        time.sleep(1)  # the page says: try again in a minute
                        continue
                    with lock:
                        bad.append(f"unexpected outcome {result}")
                    break

        health = []

        def prober():
            while not stop.is_set():
                moment = time.monotonic() - begin
                try:
                    status = common.request("GET", server.url + "/healthz", timeout=10)[0]
                except Exception:
                    status = "slow"
                health.append((moment, time.monotonic() - begin, status))
                time.sleep(0.1)

        outage_page_seen = []

        def outage_page_check():
            # One registration page fetched during the outage, to show its text.
            browser = Browser(server.url)
            status, _headers, html = browser.get(f"/evenementen/{common.EVENT_SLUG}/aanmelden/")
            outage_page_seen.append((status, OUTAGE_PAGE in html))

        load = common.OtherLoad(postgres).__enter__()
        threads = [threading.Thread(target=prober)]
        threads += [threading.Thread(target=visitor, args=(n,)) for n in range(args.clients)]
        for number, thread in enumerate(threads):
            thread.start()
            if number == 0:
                time.sleep(1)  # a few probes before the load starts
        time.sleep(args.outage_at)
        down_at = time.monotonic() - begin
        common.log(f"stopping PostgreSQL at t={down_at:.1f}s")
        postgres.pg_ctl("stop")
        time.sleep(args.outage / 2)
        outage_page_check()
        time.sleep(args.outage / 2)
        up_at = time.monotonic() - begin
        common.log(f"starting PostgreSQL at t={up_at:.1f}s")
        postgres.pg_ctl("start")
        started_at = time.monotonic() - begin
        time.sleep(max(0, args.duration - started_at))
        stop.set()
        for thread in threads:
            thread.join()
        load.__exit__(None, None, None)
        common.log(f"load stopped; {load.summary()}")

        problems = []
        workers_after = sorted(server.worker_pids())
        if workers_after != workers_before:
            problems.append(f"workers changed: {workers_before} -> {workers_after}")
        if bad:
            problems.append(f"{len(bad)} unexpected answers, e.g. {bad[:3]}")
        if not outage_page_seen or outage_page_seen[0] != (503, True):
            problems.append(f"registration page during the outage: {outage_page_seen}")
        # (sent, answered, status): a probe counts for the phase it lay wholly within.
        during = [s for sent, done, s in health if down_at + 0.5 < sent and done < up_at]
        before = [s for _sent, done, s in health if done < down_at]
        recovered = [sent for sent, _done, s in health if sent > started_at and s == 200]
        if not during or set(during) != {503}:
            problems.append(f"/healthz during the outage: {Counter(during)}")
        # Under full load a probe may wait longer than its timeout ("slow"); it must not
        # say 503 while the database is up.
        if 503 in before or 200 not in before:
            problems.append(f"/healthz before the outage: {Counter(before)}")
        if not recovered:
            problems.append("/healthz never answered 200 again")
        first_ok_after = min((t for t in succeeded_at if t > started_at), default=None)
        if first_ok_after is None:
            problems.append("no registration succeeded after the restart")

        rows = postgres.query(
            "SELECT r.email, r.status, array_remove(array_agg(c.offering_id), NULL) "
            "FROM registrations_registration r "
            "LEFT JOIN registrations_sessionchoice c ON c.registration_id = r.id "
            "AND c.status <> 'cancelled' WHERE r.event_id = %s GROUP BY r.id",
            event_id,
        )
        stored = {address: set(offerings) for address, _status, offerings in rows}
        half = [a for a, offerings in stored.items() if offerings != wanted.get(a)]
        if half:
            problems.append(f"{len(half)} registrations without exactly their chosen sessions")
        if len(stored) != len(rows):
            problems.append("someone is stored twice")
        over = postgres.query(
            "SELECT o.id FROM events_sessionoffering o JOIN registrations_sessionchoice c "
            "ON c.offering_id = o.id AND c.status = 'confirmed' WHERE o.event_id = %s "
            "GROUP BY o.id, o.capacity HAVING count(*) > o.capacity",
            event_id,
        )
        if over:
            problems.append(f"offerings over capacity: {over}")
        time.sleep(1)  # the last e-mails are written after the last responses
        # E-mails of registrations that committed just before the database went away are
        # still in the outbox: the cron job (send_queued_email) delivers them.
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
        confirmation = f"Je aanmelding voor {title}"
        confirmations = Counter(to for to, subject in messages if subject == confirmation)
        mailed = {to for to, _subject in messages}
        unmailed = set(stored) - mailed
        doubled = [a for a, n in confirmations.items() if n > 1]
        if unmailed:
            problems.append(f"{len(unmailed)} stored registrations got no e-mail")
        if doubled:
            problems.append(f"{len(doubled)} people got two confirmations")
        links = len(messages) - sum(confirmations.values())
        leaked = [line for line in server.log_lines() if "@example.nl" in line]
        if leaked:
            problems.append(f"{len(leaked)} log lines with an e-mail address")

        print()
        print(f"outage: PostgreSQL down from t={down_at:.1f}s to t={up_at:.1f}s")
        print(f"answers: {dict(sorted(answers.items()))}")
        print(f"/healthz: before {Counter(before)}, during {Counter(during)}")
        if recovered:
            print(f"/healthz 200 again {recovered[0] - started_at:.2f}s after PostgreSQL started")
        if first_ok_after is not None:
            print(f"first registration after restart: {first_ok_after - started_at:.2f}s later")
        print(
            f"stored registrations: {len(stored)}, half-written: {len(half)}; e-mails: "
            f"{sum(confirmations.values())} confirmations, {links} personal-link e-mails"
        )
        print(f"e-mails left in the outbox by the outage, sent by the cron job: {unsent}")
        print(f"gunicorn workers before/after: {workers_before} / {workers_after}")
        common.print_worker_memory(server, "fault run")
        print()
        if problems:
            print("FAULT RUN FAILED:")
            for problem in problems:
                print(f"  - {problem}")
            lines = server.log_lines()
            starts = [n for n, line in enumerate(lines) if "Internal Server Error" in line]
            print(f"\n{len(starts)} server errors in the log; the first:")
            for line in lines[starts[0] : starts[0] + 120] if starts else []:
                print(f"  {line}")
            return 1
        print("FAULT RUN OK: clear 503 during the outage, nothing half-written, self-recovered")
        return 0


if __name__ == "__main__":
    sys.exit(main())
