"""The seed fixtures in fixtures/ load cleanly and reproduce the seed programmes."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command

from events.models import (
    Event,
    EventRole,
    ProgrammeBlock,
    Round,
    Series,
    Session,
    SessionOffering,
    SessionRole,
    Venue,
)
from speakers.models import Organisation, Speaker

pytestmark = pytest.mark.django_db

FIXTURES_DIR = settings.BASE_DIR / "fixtures"
MY_FIXTURES = [
    "zaanstad-2016.json",
    "jaarprogramma-2020.json",
    "lpb-congres.json",
    "estafette-2018.json",
]
ALL_FIXTURES = [
    "zaanstad-2016.json",
    "jaarprogramma-2020.json",
    "dag-van-de-buurt-2021.json",
    "lpb-congres.json",
    "estafette-2018.json",
]
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def load(*names):
    for name in names:
        call_command("loaddata", str(FIXTURES_DIR / name), verbosity=0)


def all_project_objects():
    for label in ("speakers", "events"):
        for model in apps.get_app_config(label).get_models():
            yield from model.objects.all()


# --- every file --------------------------------------------------------------------------


@pytest.mark.parametrize("name", MY_FIXTURES)
def test_fixture_objects_pass_full_clean(name):
    load(name)

    errors = []
    for obj in all_project_objects():
        try:
            obj.full_clean()
        except ValidationError as exc:
            errors.append(f"{type(obj).__name__} {obj.pk}: {exc}")

    assert errors == []


def test_all_fixtures_load_together_without_collisions():
    load(*ALL_FIXTURES)

    mine = Event.objects.exclude(pk__range=(3000, 3999))

    assert mine.count() == 15
    assert Speaker.objects.filter(slug="jornt-van-zuylen").count() == 1
    assert Organisation.objects.filter(slug="gemeente-zaanstad").count() == 1


@pytest.mark.parametrize("name", MY_FIXTURES)
def test_fixture_events_published_with_window_before_event(name):
    load(name)

    events = list(Event.objects.all())

    assert events != []
    for event in events:
        opens = event.registration_opens_at.astimezone(AMSTERDAM)
        closes = event.registration_closes_at.astimezone(AMSTERDAM)
        assert event.is_published is True
        assert event.registration_enabled is True
        assert event.summary != ""
        assert opens.date() == event.start_date - datetime.timedelta(weeks=6)
        assert closes.date() == event.start_date - datetime.timedelta(days=1)
        assert closes.time() == datetime.time(23, 59)


# --- 000 Zaanstad, 31 Oct 2016 ------------------------------------------------------------


def test_zaanstad_load_creates_exact_counts():
    load("zaanstad-2016.json")

    counts = {
        model.__name__: model.objects.count()
        for model in (
            Organisation,
            Speaker,
            Venue,
            Event,
            ProgrammeBlock,
            Round,
            Session,
            SessionOffering,
            SessionRole,
            EventRole,
        )
    }

    assert counts == {
        "Organisation": 10,
        "Speaker": 13,
        "Venue": 1,
        "Event": 1,
        "ProgrammeBlock": 3,
        "Round": 2,
        "Session": 7,
        "SessionOffering": 14,
        "SessionRole": 11,
        "EventRole": 3,
    }


def test_zaanstad_event_date_times_and_venue_match_seed():
    load("zaanstad-2016.json")

    event = Event.objects.get(slug="zaanstad-werken-in-de-wijk-2016")

    assert event.title == "Werken in de wijk en nieuwe vormen van lokale democratie"
    assert event.start_date == datetime.date(2016, 10, 31)
    assert (event.start_time, event.end_time) == (datetime.time(14, 0), datetime.time(18, 0))
    assert (event.venue.name, event.venue.city) == ("Gemeentehuis Zaanstad", "Zaandam")


def test_zaanstad_timeline_follows_seed_programme():
    load("zaanstad-2016.json")
    event = Event.objects.for_programme().get(slug="zaanstad-werken-in-de-wijk-2016")

    timeline = [
        (f"{item.starts_at:%H:%M}", f"{item.ends_at:%H:%M}", item.title, item.is_round)
        for item in event.timeline()
    ]

    assert timeline == [
        ("14:00", "14:30", "Ontvangst", False),
        ("14:30", "15:00", "Welkom met plenair interview", False),
        ("15:00", "15:45", "Ronde 1 tafelsessies", True),
        ("16:00", "16:45", "Ronde 2 tafelsessies", True),
        ("16:45", "18:00", "Gezamenlijke afsluiting en borrel", False),
    ]


def test_zaanstad_sessions_offered_in_both_rounds():
    load("zaanstad-2016.json")

    rounds_per_session = {
        session.title: sorted(o.round.title for o in session.offerings.all())
        for session in Session.objects.prefetch_related("offerings__round")
    }

    assert len(rounds_per_session) == 7
    assert set(map(tuple, rounds_per_session.values())) == {
        ("Ronde 1 tafelsessies", "Ronde 2 tafelsessies")
    }


def test_zaanstad_offerings_have_twelve_seats_at_own_table():
    load("zaanstad-2016.json")

    offerings = [
        (o.round.title, o.session.title, o.location, o.capacity)
        for o in SessionOffering.objects.select_related("round", "session").filter(
            round__title="Ronde 1 tafelsessies"
        )
    ]

    assert offerings == [
        ("Ronde 1 tafelsessies", "Buurtbudgetten. Hoe ga je ermee om?", "Tafel 1", 12),
        ("Ronde 1 tafelsessies", "Representativiteit & unusual suspects", "Tafel 2", 12),
        ("Ronde 1 tafelsessies", "Ontwikkelplannen voor de wijk", "Tafel 3", 12),
        ("Ronde 1 tafelsessies", "Jongeren en lokale democratie", "Tafel 4", 12),
        ("Ronde 1 tafelsessies", "Buurtcoöperatie wat komt er bij kijken?", "Tafel 5", 12),
        ("Ronde 1 tafelsessies", "Doen wat goed en nodig is", "Tafel 6", 12),
        ("Ronde 1 tafelsessies", "Reikwijdte lokale democratie", "Tafel 7", 12),
    ]


def test_zaanstad_buurtcooperatie_led_by_three_people_with_organisation():
    load("zaanstad-2016.json")
    session = Session.objects.get(title="Buurtcoöperatie wat komt er bij kijken?")

    leaders = [
        (role.speaker.name, role.speaker.organisation.name)
        for role in session.roles.select_related("speaker__organisation").filter(
            role=SessionRole.Role.LEADER
        )
    ]

    assert leaders == [
        ("Jurgen van der Heijden", "AT Osborne"),
        ("David Kooi", "Gemeente Zaanstad"),
        ("Erwin Stam", "Gemeente Zaanstad"),
    ]


def test_zaanstad_reikwijdte_led_by_jornt_van_zuylen_of_democratic_challenge():
    load("zaanstad-2016.json")
    session = Session.objects.get(title="Reikwijdte lokale democratie")

    leaders = [(r.speaker.name, r.speaker.organisation.name) for r in session.roles.all()]

    assert leaders == [("Jornt van Zuylen", "Democratic Challenge")]


def test_zaanstad_moderator_is_natasja_van_den_berg():
    load("zaanstad-2016.json")

    moderators = list(
        EventRole.objects.filter(role=EventRole.Role.MODERATOR).values_list(
            "speaker__name", flat=True
        )
    )

    assert moderators == ["Natasja van den Berg"]


def test_zaanstad_plenary_interview_has_secretary_and_alderman():
    load("zaanstad-2016.json")

    speakers = [
        (role.speaker.name, role.speaker.function, role.note)
        for role in EventRole.objects.filter(role=EventRole.Role.SPEAKER).select_related("speaker")
    ]

    assert speakers == [
        ("Jan van Ginkel", "gemeentesecretaris", "Plenair interview"),
        ("Rita Visscher-Noordzij", "wethouder", "Plenair interview"),
    ]


def test_zaanstad_organisers_and_video_link_match_seed():
    load("zaanstad-2016.json")

    event = Event.objects.get(slug="zaanstad-werken-in-de-wijk-2016")

    assert sorted(event.organisers.values_list("name", flat=True)) == [
        "De Haagse Hogeschool",
        "Gemeente Zaanstad",
        "VOM",
        "omooc.nl",
    ]
    assert event.more_info_url == "https://youtu.be/JN01kfQCTv4"


# --- 001 Jaarprogramma 2020, Kennisnetwerk Amsterdam --------------------------------------


def test_jaarprogramma_series_has_theme_kind_and_eight_events():
    load("jaarprogramma-2020.json")

    series = Series.objects.get(slug="kennisnetwerk-amsterdam-jaarprogramma-2020")

    assert series.title == "Jaarprogramma 2020"
    assert series.kind_id == "year_programme"
    assert series.theme == "Zeggenschap en eigenaarschap"
    assert list(series.organisers.values_list("name", flat=True)) == ["Kennisnetwerk Amsterdam"]
    assert series.events.count() == 8
    assert Event.objects.count() == 8


def test_jaarprogramma_dates_and_kinds_match_seed():
    load("jaarprogramma-2020.json")

    schedule = list(Event.objects.order_by("start_date").values_list("start_date", "kind"))

    assert schedule == [
        (datetime.date(2020, 3, 3), "reflection"),
        (datetime.date(2020, 4, 2), "knowledge"),
        (datetime.date(2020, 4, 23), "practice"),
        (datetime.date(2020, 5, 28), "knowledge"),
        (datetime.date(2020, 6, 25), "reflection"),
        (datetime.date(2020, 9, 17), "practice"),
        (datetime.date(2020, 10, 22), "knowledge"),
        (datetime.date(2020, 11, 26), "feedback"),
    ]


def test_jaarprogramma_events_all_provisional():
    load("jaarprogramma-2020.json")

    flags = set(Event.objects.values_list("is_provisional", flat=True))

    assert flags == {True}


def test_jaarprogramma_23_april_time_to_be_confirmed():
    load("jaarprogramma-2020.json")

    event = Event.objects.get(start_date=datetime.date(2020, 4, 23))

    assert event.time_to_be_confirmed is True
    assert (event.start_time, event.end_time) == (None, None)
    assert event.shows_times is False


def test_jaarprogramma_other_events_run_from_four_to_half_past_five():
    load("jaarprogramma-2020.json")

    times = set(
        Event.objects.exclude(start_date=datetime.date(2020, 4, 23)).values_list(
            "start_time", "end_time", "time_to_be_confirmed"
        )
    )

    assert times == {(datetime.time(16, 0), datetime.time(17, 30), False)}


def test_jaarprogramma_first_event_title_and_no_venue():
    load("jaarprogramma-2020.json")

    event = Event.objects.get(start_date=datetime.date(2020, 3, 3))

    assert event.title == "Wat betekenen zeggenschap en eigenaarschap?"
    assert event.venue is None
    assert Venue.objects.count() == 0


# --- 003 LPB congres ----------------------------------------------------------------------


def test_lpb_congress_spans_three_days_in_groningen():
    load("lpb-congres.json")

    event = Event.objects.get(slug="lpb-congres-2014-groningen")

    assert (event.start_date, event.end_date) == (
        datetime.date(2014, 11, 19),
        datetime.date(2014, 11, 21),
    )
    assert event.is_multi_day is True
    assert event.kind_id == "congress"
    assert event.venue.city == "Groningen"
    assert event.capacity == 400


def test_lpb_series_is_congress_with_only_the_2014_edition():
    load("lpb-congres.json")

    series = Series.objects.get(slug="lpb-congres")

    assert series.kind_id == "congress"
    assert list(series.events.values_list("slug", flat=True)) == ["lpb-congres-2014-groningen"]
    assert list(series.organisers.values_list("name", flat=True)) == [
        "Landelijk Platform Buurt- en Wijkgericht Werken"
    ]


def test_lpb_introduction_names_the_three_perspectives():
    load("lpb-congres.json")

    introduction = Event.objects.get(slug="lpb-congres-2014-groningen").introduction
    headings = [line for line in introduction.split("\n\n") if line[:2] in {"1.", "2.", "3."}]

    assert headings == [
        "1. Uitdagingen voor de overheid door initiatieven van burgers en ondernemers",
        "2. Vernieuwing van de lokale democratie en de rol van de politiek",
        "3. De veranderende rol van de wijkambtenaar",
    ]


# --- 004 Estafette Vernieuwing Lokaal Bestuur ---------------------------------------------


def test_estafette_has_five_events_in_five_cities():
    load("estafette-2018.json")

    schedule = [
        (event.start_date, event.title, event.venue.name, event.venue.city)
        for event in Event.objects.select_related("venue").order_by("start_date")
    ]

    assert schedule == [
        (
            datetime.date(2018, 9, 19),
            "Samenwerken in het sociaal domein",
            "Gemeentehuis Leeuwarden",
            "Leeuwarden",
        ),
        (
            datetime.date(2018, 11, 1),
            "Draagvlak voor de energietransitie",
            "Gemeentehuis Amersfoort",
            "Amersfoort",
        ),
        (
            datetime.date(2018, 11, 22),
            "Veiligheid en leefbaarheid als coproductie",
            "Debatcentrum Arminius",
            "Rotterdam",
        ),
        (datetime.date(2018, 12, 13), "Onze omgevingswet", "Gemeentehuis Haarlem", "Haarlem"),
        (datetime.date(2019, 1, 17), "Kompas 2019", "Kasteel Helmond", "Helmond"),
    ]


def test_estafette_helmond_kompas_2019_opened_by_eric_de_kluis():
    load("estafette-2018.json")
    event = Event.objects.get(venue__city="Helmond")

    roles = [(r.role_id, r.speaker.name) for r in event.roles.select_related("speaker")]

    assert event.start_date == datetime.date(2019, 1, 17)
    assert event.title == "Kompas 2019"
    assert roles == [("chair", "Elisabeth van den Hoogen"), ("opening", "Eric de Kluis")]


def test_estafette_summary_error_not_reproduced():
    load("estafette-2018.json")

    wrong = Event.objects.filter(title="Lokale democratie; een nieuwe start")
    wrong_date = Event.objects.filter(start_date=datetime.date(2018, 1, 17))

    assert (wrong.count(), wrong_date.count()) == (0, 0)


def test_estafette_chairs_match_seed():
    load("estafette-2018.json")

    chairs = list(
        EventRole.objects.filter(role=EventRole.Role.CHAIR)
        .order_by("event__start_date")
        .values_list("event__venue__city", "speaker__name")
    )

    assert chairs == [
        ("Leeuwarden", "Elisabeth van den Hoogen"),
        ("Amersfoort", "Hans Kennepohl"),
        ("Rotterdam", "Elisabeth van den Hoogen"),
        ("Haarlem", "Elisabeth van den Hoogen"),
        ("Helmond", "Elisabeth van den Hoogen"),
    ]


def test_estafette_events_run_half_past_twelve_to_five_free():
    load("estafette-2018.json")

    details = set(Event.objects.values_list("kind", "start_time", "end_time", "price_note"))

    assert details == {
        ("afternoon", datetime.time(12, 30), datetime.time(17, 0), "Deelname is gratis")
    }


def test_estafette_series_contact_and_organisers():
    load("estafette-2018.json")
    series = Series.objects.get(slug="estafette-vernieuwing-lokaal-bestuur")

    contact = Event.objects.get(title="Onze omgevingswet").effective_contact

    assert series.kind_id == "relay"
    assert series.price_note == "Deelname is gratis"
    assert (series.contact_name, series.contact_phone, series.contact_email) == (
        "José Salhi",
        "(020) 573 36 62",
        "jsalhi@binnenlandsbestuur.nl",
    )
    assert contact == series
    assert sorted(series.organisers.values_list("name", flat=True)) == [
        "Binnenlands Bestuur",
        "Ministerie van Binnenlandse Zaken en Koninkrijksrelaties",
        "Nederlands Gesprek Centrum",
    ]
