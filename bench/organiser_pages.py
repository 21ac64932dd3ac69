"""Benchmark: every organiser page of the largest seed event, as a logged-in organiser.

Starts PostgreSQL and gunicorn (production settings, like the other benchmarks), loads the
seed programmes with load_demo and works on its upcoming copy of Dag van de Buurt (26
session offerings in 2 rounds). Before measuring it registers --registrations participants
(one session per round, popular sessions more often) and checks a third of them in, so the
lists and exports have people on them. Then, as a staff superuser logged in through the
admin's login form, it GETs every page of `pages()` --runs times over a keep-alive
connection (after one warm-up round) and prints per page p50/p95 in milliseconds, the
app server's CPU time per request (its workers' CPU clock, 10 ms ticks, averaged over the
runs: less swayed than the wall clock by other jobs on a shared machine), the number of
database queries (counted once per page with Django's test client in this
process, against the same database) and the response size; pages over the target
(300 ms at p95) are flagged.

To add a page (the programme editor, say), add a line to `pages()`.

    python bench/organiser_pages.py [--runs 10] [--registrations 400]
"""

import argparse
import logging
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.client import CSRF_INPUT, Browser

TARGET_MS = 300
USERNAME = "bench-organisator"
PASSWORD = "bench-organisator-wachtwoord"


def pages(event):
    """(name, path) of every organiser page for `event`; extend this list for new pages."""
    from django.urls import reverse

    session = event.sessions.order_by("order", "pk").first()
    offering = event.offerings.filter(session=session).order_by("pk").first()
    round_ = event.rounds.order_by("starts_at", "pk").first()
    admin = "admin:events_event_"
    return [
        ("admin: event list", reverse(f"{admin}changelist")),
        ("admin: event change page", reverse(f"{admin}change", args=[event.pk])),
        ("admin: programme editor", reverse(f"{admin}programme", args=[event.pk])),
        (
            "admin: programme editor, one card open",
            reverse(f"{admin}programme", args=[event.pk]) + f"?bewerk={session.pk}",
        ),
        ("admin: programme from text", reverse(f"{admin}programme_import", args=[event.pk])),
        ("admin: sessions from a sheet", reverse(f"{admin}session_import", args=[event.pk])),
        ("admin: copy for next year", reverse(f"{admin}copy", args=[event.pk])),
        (
            "admin: session list (event)",
            reverse("admin:events_session_changelist") + f"?event__id__exact={event.pk}",
        ),
        ("admin: session change page", reverse("admin:events_session_change", args=[session.pk])),
        (
            "admin: session cancel (consequences)",
            reverse("admin:events_session_cancel", args=[session.pk]),
        ),
        (
            "admin: offering list (event)",
            reverse("admin:events_sessionoffering_changelist") + f"?event__id__exact={event.pk}",
        ),
        (
            "admin: offering change page",
            reverse("admin:events_sessionoffering_change", args=[offering.pk]),
        ),
        (
            "admin: offering cancel (consequences)",
            reverse("admin:events_sessionoffering_cancel", args=[offering.pk]),
        ),
        ("admin: round change page", reverse("admin:events_round_change", args=[round_.pk])),
        (
            "admin: registration list (event)",
            reverse("admin:registrations_registration_changelist")
            + f"?event__id__exact={event.pk}",
        ),
        (
            "admin: registration list (session)",
            reverse("admin:registrations_registration_changelist")
            + f"?event__id__exact={event.pk}&offering={offering.pk}",
        ),
        ("staff: event overview", reverse("registrations:event_overview", args=[event.pk])),
        ("staff: event attendee list", reverse("registrations:event_attendees", args=[event.pk])),
        ("staff: event check-in", reverse("registrations:event_checkin", args=[event.pk])),
        (
            "staff: event export csv",
            reverse("registrations:event_export", args=[event.pk, "csv"]),
        ),
        (
            "staff: event export xlsx",
            reverse("registrations:event_export", args=[event.pk, "xlsx"]),
        ),
        (
            "staff: registrations csv",
            reverse("registrations:event_registrations_csv", args=[event.pk]),
        ),
        (
            "staff: session attendee list",
            reverse("registrations:offering_attendees", args=[offering.pk]),
        ),
        ("staff: session check-in", reverse("registrations:offering_checkin", args=[offering.pk])),
        (
            "staff: session cue card",
            reverse("registrations:offering_cue_card", args=[offering.pk]),
        ),
        (
            "staff: session export xlsx",
            reverse("registrations:offering_export", args=[offering.pk, "xlsx"]),
        ),
        ("staff: my sessions", reverse("registrations:my_sessions")),
    ]


def setup_django(env):
    """This process uses the server's settings and database, to prepare data and count queries."""
    os.environ.update(env)
    import django

    django.setup()


def prepare_event(count, seed=7):
    """The organiser, and `count` participants of the demo event (a third checked in)."""
    from django.contrib.auth.models import User
    from django.core.exceptions import ValidationError
    from django.utils import timezone

    from events.models import Event
    from registrations import services
    from registrations.models import SessionChoice

    logging.getLogger("registrations").setLevel(logging.WARNING)  # a line per e-mail
    User.objects.create_superuser(USERNAME, "organisator@example.nl", PASSWORD)
    event = Event.objects.get(slug=common.EVENT_SLUG)
    rng = random.Random(seed)
    by_round, sessions = {}, {}
    for offering in event.offerings.order_by("pk"):
        by_round.setdefault(offering.round_id, []).append(offering.pk)
        sessions[offering.pk] = offering.session_id
    registered = 0
    for number in range(count):
        choices = []
        for ids in by_round.values():  # never the same session in two rounds
            open_ids = [pk for pk in ids if sessions[pk] not in {sessions[c] for c in choices}]
            weights = [1 / (rank + 1) for rank in range(len(open_ids))]
            choices.append(rng.choices(open_ids, weights=weights)[0])
        try:
            services.register_attendee(
                event,
                person=services.Person(
                    name=f"Deelnemer {number}",
                    email=f"deelnemer{number}@example.nl",
                    role=rng.choice(["resident", "civil_servant", "professional", "other"]),
                    organisation=f"Organisatie {number % 40}",
                ),
                offering_ids=choices,
            )
            registered += 1
        except ValidationError as error:  # a full session: the next person
            common.log(f"registration {number} refused: {error}")
    checked_in = SessionChoice.objects.filter(offering__event=event, status="confirmed")
    ids = list(checked_in.values_list("pk", flat=True))[::3]
    SessionChoice.objects.filter(pk__in=ids).update(checked_in_at=timezone.now())
    return event, registered


def count_queries(path):
    """Database queries of one GET of `path`, through Django's test client in this process."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=common.HOST)
    client.force_login(User.objects.get(username=USERNAME))
    client.get(path, secure=True)  # the first request of a process loads what it keeps
    with CaptureQueriesContext(connection) as context:
        response = client.get(path, secure=True)
    return response.status_code, len(context.captured_queries)


def log_in(server):
    browser = Browser(server.url)
    _status, _headers, html = browser.get("/admin/login/")
    status, headers, _body = browser.post(
        "/admin/login/",
        {
            "csrfmiddlewaretoken": CSRF_INPUT.search(html).group(1),
            "username": USERNAME,
            "password": PASSWORD,
            "next": "/admin/",
        },
    )
    if status != 302:
        raise RuntimeError(f"logging in failed: {status}")
    return browser


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed GETs per page")
    parser.add_argument("--registrations", type=int, default=400)
    args = parser.parse_args()

    with common.stack() as (postgres, server, _workdir):
        common.print_facts(common.machine_facts(postgres))
        setup_django(server.env)
        event, registered = prepare_event(args.registrations)
        common.log(
            f"{event.title}: {event.sessions.count()} sessions, {event.offerings.count()} "
            f"offerings, {event.rounds.count()} rounds; {registered} registered"
        )
        pages_ = pages(event)
        queries = {name: count_queries(path) for name, path in pages_}

        browser = log_in(server)
        timings = {name: [] for name, _path in pages_}
        cpu = dict.fromkeys(timings, 0.0)
        sizes = {}
        with common.OtherLoad(postgres) as load:
            for run in range(args.runs + 1):
                for name, path in pages_:
                    browser.timings.clear()
                    before = sum(server.worker_cpu().values())
                    status, _headers, body = browser.get(path)
                    if status != 200:
                        raise RuntimeError(f"{name}: {path} answered {status}")
                    if run:  # the first round warms up every worker
                        timings[name].append(browser.timings[-1][3] * 1000)
                        cpu[name] += sum(server.worker_cpu().values()) - before
                    sizes[name] = len(body.encode())
        print()
        print(load.summary())
        print(
            f"{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>7} {'queries':>8} {'KB':>7}  "
            f"(target {TARGET_MS} ms at p95; CPU: the app server's, mean per request)"
        )
        slow = []
        for name, _path in pages_:
            p50 = common.percentile(timings[name], 0.5)
            p95 = common.percentile(timings[name], 0.95)
            status, count = queries[name]
            flag = ""
            if p95 > TARGET_MS:
                flag = "  SLOW"
                slow.append(name)
            if status != 200:
                flag += f"  (test client: {status})"
            cpu_ms = cpu[name] / args.runs * 1000
            print(
                f"{name:40} {p50:8.1f} {p95:8.1f} {cpu_ms:7.0f} {count:8d} "
                f"{sizes[name] / 1024:7.0f}{flag}"
            )
        print()
        print(f"PAGES OVER {TARGET_MS} MS (p95): {', '.join(slow) or 'none'}")
        print("paths:")
        for name, path in pages_:
            print(f"  {name}: {path}")
        return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
