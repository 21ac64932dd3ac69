import datetime

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from events.models import Event, SessionKind
from events.services import copy_as_draft

SEED_FIXTURES = [
    str(settings.BASE_DIR / "fixtures" / name)
    for name in [
        "zaanstad-2016.json",
        "jaarprogramma-2020.json",
        "dag-van-de-buurt-2021.json",
        "lpb-congres.json",
        "estafette-2018.json",
    ]
]

# Upcoming copies of seed events, so that registration can be tried today:
# (seed slug, slug of the copy, days from today, title suffix).
LIVE_DEMO_EVENTS = [
    ("dag-van-de-buurt-2021", "demo-dag-van-de-buurt", 30, " (demo)"),
    # Preference mode: rank sessions until the deadline, then a fair lottery.
    ("dag-van-de-buurt-2021", "demo-dag-van-de-buurt-voorkeuren", 40, " (demo, voorkeuren)"),
    ("zaanstad-werken-in-de-wijk-2016", "demo-werken-in-de-wijk", 45, " (demo)"),
    # Two afternoons of the Estafette series, to try registering for several at once.
    (
        "estafette-leeuwarden-samenwerken-in-het-sociaal-domein",
        "demo-estafette-leeuwarden",
        60,
        " (demo)",
    ),
    (
        "estafette-amersfoort-draagvlak-voor-de-energietransitie",
        "demo-estafette-amersfoort",
        75,
        " (demo)",
    ),
]


# Kinds of session on a demo copy, to try the kind filter: session slug -> kind code;
# the other sessions of the copy are table sessions.
DEMO_SESSION_KINDS = {
    "demo-dag-van-de-buurt": {
        "buurtagenda-in-een-uur": "workshop",
        "capability-approach-in-de-praktijk": "practice_session",
        "leeragenda-vertrouwen-in-instituties-en-elkaar": "round_table",
        "leeragenda-integraal-preventief-signaleren": "round_table",
        "leeragenda-gemengde-wijken": "round_table",
        "project-o-overvecht": "excursion",
    },
}


class Command(BaseCommand):
    help = (
        "Load the five seed programmes from fixtures/ and add upcoming demo copies "
        "with open registration. Safe to run again: demo copies are replaced."
    )

    def handle(self, *args, **options):
        call_command("loaddata", *SEED_FIXTURES, verbosity=options["verbosity"])
        created = self.create_live_demo_events(today=timezone.localdate())
        for event in created:
            self.stdout.write(f"Demo event: {event.title} on {event.start_date:%Y-%m-%d}")

    @transaction.atomic
    def create_live_demo_events(self, *, today):
        created = []
        now = timezone.now()
        for seed_slug, demo_slug, days_ahead, suffix in LIVE_DEMO_EVENTS:
            seed = Event.objects.filter(slug=seed_slug).first()
            if seed is None:
                self.stderr.write(f"Seed event {seed_slug!r} not found; no demo copy made.")
                continue
            for old in Event.objects.filter(slug=demo_slug):
                # Demo registrations go with their demo event (they protect it otherwise).
                old.registrations.all().delete()
                old.delete()
            start_date = today + datetime.timedelta(days=days_ahead)
            demo = copy_as_draft(seed, start_date=start_date, slug=demo_slug)
            demo.title = f"{seed.title}{suffix}"
            demo.is_published = True
            demo.registration_enabled = True
            demo.registration_opens_at = now - datetime.timedelta(days=1)
            demo.registration_closes_at = timezone.make_aware(
                datetime.datetime.combine(
                    start_date - datetime.timedelta(days=1), datetime.time(23, 59)
                )
            )
            if demo_slug.endswith("-voorkeuren"):
                demo.allocation_mode = Event.AllocationMode.PREFERENCE
                demo.preferences_close_at = now + datetime.timedelta(days=days_ahead - 10)
            demo.save()
            self.set_session_kinds(demo)
            created.append(demo)
        return created

    @staticmethod
    def set_session_kinds(demo):
        kinds = DEMO_SESSION_KINDS.get(demo.slug)
        if kinds is None:
            return
        by_code = {kind.code: kind for kind in SessionKind.objects.all()}
        for session in demo.sessions.all():
            session.kind = by_code.get(kinds.get(session.slug, "table_session"))
            session.save(update_fields=["kind"])
