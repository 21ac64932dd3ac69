import datetime

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from events.models import (
    Event,
    EventKind,
    ProgrammeBlock,
    Round,
    Session,
    SessionKind,
    SessionOffering,
    Venue,
)
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
        created.append(self.create_excursion_demo_event(today=timezone.localdate()))
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

    # A programme no seed has: an excursion across two rounds, and a round that overlaps
    # another in time. Made up for trying these out; it names no people.
    EXCURSION_DEMO_SLUG = "demo-wijkcongres-met-excursie"
    EXCURSION_DEMO_DAYS_AHEAD = 50

    @transaction.atomic
    def create_excursion_demo_event(self, *, today):
        for old in Event.objects.filter(slug=self.EXCURSION_DEMO_SLUG):
            old.registrations.all().delete()
            old.delete()
        start_date = today + datetime.timedelta(days=self.EXCURSION_DEMO_DAYS_AHEAD)
        event = Event.objects.create(
            title="Demo: Wijkcongres met excursie",
            slug=self.EXCURSION_DEMO_SLUG,
            kind=EventKind.objects.get(code="congress"),
            theme="Samen werken aan de wijk",
            summary=(
                "Een voorbeeldprogramma om uit te proberen: een excursie die twee rondes "
                "duurt, en een verdiepingsronde die de tweede ronde overlapt."
            ),
            introduction=(
                "Dit is een demo. Kies in de eerste ronde een tafelsessie of de excursie. "
                "De excursie duurt tot het einde van de tweede ronde; wie meegaat, kiest "
                "in die ronde niets.\n\n"
                "De verdiepingsronde begint halverwege de tweede ronde. Je kunt dus een "
                "sessie in de tweede ronde of in de verdiepingsronde kiezen, niet allebei."
            ),
            start_date=start_date,
            start_time=datetime.time(13, 0),
            end_time=datetime.time(16, 30),
            venue=Venue.objects.filter(city="Zaandam").order_by("pk").first(),
            capacity=80,
            price_note="Deelname is gratis.",
            is_published=True,
            registration_opens_at=timezone.now() - datetime.timedelta(days=1),
            registration_closes_at=timezone.make_aware(
                datetime.datetime.combine(
                    start_date - datetime.timedelta(days=1), datetime.time(23, 59)
                )
            ),
        )
        ProgrammeBlock.objects.bulk_create(
            [
                ProgrammeBlock(
                    event=event,
                    kind=ProgrammeBlock.Kind.RECEPTION,
                    title="Ontvangst en opening",
                    starts_at=datetime.time(13, 0),
                    ends_at=datetime.time(13, 20),
                ),
                ProgrammeBlock(
                    event=event,
                    kind=ProgrammeBlock.Kind.DRINKS,
                    title="Afsluiting en borrel",
                    starts_at=datetime.time(16, 0),
                    ends_at=datetime.time(16, 30),
                ),
            ]
        )
        rounds = {
            title: Round.objects.create(
                event=event, title=title, starts_at=start, ends_at=end, order=order
            )
            for order, (title, start, end) in enumerate(
                [
                    ("Ronde 1", datetime.time(13, 20), datetime.time(14, 20)),
                    ("Ronde 2", datetime.time(14, 30), datetime.time(15, 30)),
                    ("Verdiepingsronde", datetime.time(15, 0), datetime.time(16, 0)),
                ]
            )
        }
        programme = [
            # (title, summary, first round, last round, seats, place)
            (
                "Excursie: buurtinitiatieven te voet",
                "Een wandeling langs initiatieven van bewoners, met een gesprek bij elk.",
                "Ronde 1",
                "Ronde 2",
                15,
                "verzamelen bij de ingang",
            ),
            (
                "Buurtbudget: wie beslist mee?",
                "Hoe verdeel je een wijkbudget zo dat iedereen mee kan doen?",
                "Ronde 1",
                None,
                20,
                "tafel 1",
            ),
            (
                "Samen een wijkagenda maken",
                "Van losse wensen naar een agenda die bewoners en gemeente delen.",
                "Ronde 1",
                None,
                20,
                "tafel 2",
            ),
            (
                "Groen in de wijk",
                "Geveltuinen, boomspiegels en een buurtmoestuin: wie doet wat?",
                "Ronde 2",
                None,
                20,
                "tafel 1",
            ),
            (
                "Jongeren aan tafel",
                "Hoe krijg je jongeren betrokken bij plannen voor hun wijk?",
                "Ronde 2",
                None,
                20,
                "tafel 2",
            ),
            (
                "Een buurtfonds opzetten",
                "Een praktijksessie over geld, regels en vertrouwen.",
                "Verdiepingsronde",
                None,
                25,
                "zaal 3",
            ),
        ]
        kinds = {kind.code: kind for kind in SessionKind.objects.for_event(event)}
        kind_codes = [
            "excursion",
            "workshop",
            "table_session",
            "table_session",
            "table_session",
            "practice_session",
        ]
        for order, (title, summary, first, last, seats, place) in enumerate(programme):
            session = Session.objects.create(
                event=event,
                title=title,
                slug=f"sessie-{order + 1}",
                summary=summary,
                kind=kinds.get(kind_codes[order]),
                order=order,
            )
            SessionOffering.objects.create(
                event=event,
                session=session,
                round=rounds[first],
                last_round=rounds[last] if last else None,
                capacity=seats,
                location=place,
                order=order,
            )
        return event

    @staticmethod
    def set_session_kinds(demo):
        kinds = DEMO_SESSION_KINDS.get(demo.slug)
        if kinds is None:
            return
        by_code = {kind.code: kind for kind in SessionKind.objects.all()}
        for session in demo.sessions.all():
            session.kind = by_code.get(kinds.get(session.slug, "table_session"))
            session.save(update_fields=["kind"])
