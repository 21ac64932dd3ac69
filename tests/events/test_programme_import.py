"""Programme from pasted text: the parser, the seed programmes, and the admin page."""

import datetime

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.urls import reverse

from events.models import Event, ProgrammeBlock, Round
from events.programme_import import BLOCK, ROUND, parse_programme
from tests.factories import EventFactory, RoundFactory

T = datetime.time

# The programme as the Zaanstad seed page has it (000_c2793aff6c5e498f.txt).
ZAANSTAD_TEXT = """\
Programma
14:00 – 14:30 ontvangst
14:30 – 15:00 welkom met plenair interview
15:00 – 15:45 ronde 1 tafelsessies
16:00 – 16:45 ronde 2 tafelsessies
16:45 – 18:00 gezamenlijke afsluiting en borrel
"""

# The Dag van de Buurt seed tells its programme in prose ("Om 13.00 uur trapt Lucas de Man
# de Dag van de Buurt af", "Om 14.00 en om 15.00 uur beginnen sessies", "Om 16.00 uur zien
# we elkaar weer terug in de studio"); these are its lines as an invitation would list them.
DVDB_TEXT = """\
13.00 - 13.45 uur: Opening: waarom de buurt alle aandacht verdient
14.00 - 14.45 uur: Ronde 1
15.00 - 15.45 uur: Ronde 2
16.00 - 16.30 uur: Terug in de studio: vooruitkijken naar een Minister van Wijken
"""

# The meeting lines of the year programme seed (001_3651f16cfca40e83.txt), with some of
# the text between them.
JAARPROGRAMMA_TEXT = """\
(Data en tijden zijn onder voorbehoud.)
3 maart, 16.00 – 17.30 uur – Reflectiebijeenkomst
Wat betekenen zeggenschap en eigenaarschap? Wat zijn de gevolgen voor een organisatie?
2 april, 16.00 – 17.30 uur – Kennisbijeenkomst
23 april, tijd nader te bepalen – Praktijkbijeenkomst
28 mei, 16.00 – 17.30 uur – Kennisbijeenkomst
25 juni, 16.00 – 17.30 uur – Reflectiebijeenkomst
17 september, 16.00 – 17.30 uur – Praktijkbijeenkomst
22 oktober, 16.00 – 17.30 uur – Kennisbijeenkomst
26 november. 16.00 – 17.30 uur – Terugkoppeling
  • Hoe kan het samenspel van Amsterdammers, overheid en wijkprofessionals zo effectief
"""

# The LPB congress (003) and the Estafette (004) give no timetable, only dates and times of
# whole days; their fixtures have no programme blocks or rounds.
LPB_TEXT = """\
Het LPB Congres 2014 dat op 19, 20 en 21 november plaatsvond in Groningen.
Het thema van het landelijk Platform Buurt- en Wijkgericht Werken congres 2014 was de
samenwerking tussen burger, politicus en ambtenaar.
"""
ESTAFETTE_TEXT = """\
17 januari 2018

Lokale democratie; een nieuwe start

Kasteel Helmond

Tijd: 12:30 - 17:00 uur
Wie: Binnenlands Bestuur
"""


def structure(event):
    """Blocks and rounds of `event` in time order, as the public page shows them."""
    blocks = [
        (BLOCK, b.day, b.starts_at, b.ends_at, b.title, b.kind, b.order)
        for b in ProgrammeBlock.objects.filter(event=event)
    ]
    rounds = [
        (ROUND, r.day, r.starts_at, r.ends_at, r.title, "", r.order)
        for r in Round.objects.filter(event=event)
    ]
    return sorted(blocks + rounds, key=lambda item: (item[2], item[0]))


def parsed(lines):
    return [
        (line.item_type, line.day, line.starts_at, line.ends_at, line.title, line.kind)
        for line in lines
        if line.is_item
    ]


def load(name):
    call_command("loaddata", settings.BASE_DIR / "fixtures" / name, verbosity=0)


# The parser


def test_parser_reads_colons_dots_en_dashes_and_uur():
    lines = parse_programme(
        "14:00 – 14:30 ontvangst\n15.00 - 15.45 uur ronde 1 tafelsessies\n16.00 uur: ronde 2\n"
        "16:30 tot 17:00 uur borrel\n"
    )

    assert parsed(lines) == [
        (BLOCK, None, T(14, 0), T(14, 30), "Ontvangst", "reception"),
        (ROUND, None, T(15, 0), T(15, 45), "Ronde 1 tafelsessies", ""),
        (ROUND, None, T(16, 0), None, "Ronde 2", ""),
        (BLOCK, None, T(16, 30), T(17, 0), "Borrel", "drinks"),
    ]


def test_parser_keeps_lines_without_a_time_as_skipped_with_a_reason():
    lines = parse_programme("Programma\n\n25:00 nacht\n15.00 - 14.00 omgekeerd\n14:00 –\n")

    assert [(line.number, line.text, line.error) for line in lines] == [
        (1, "Programma", "no_time"),
        (3, "25:00 nacht", "no_time"),
        (4, "15.00 - 14.00 omgekeerd", "end_before_start"),
        (5, "14:00 –", "no_title"),
    ]
    assert not any(line.is_item for line in lines)


def test_parser_does_not_take_a_title_starting_with_u_for_uur():
    (line,) = parse_programme("16.00 uitreiking van de prijs")

    assert (line.starts_at, line.title) == (T(16, 0), "Uitreiking van de prijs")


def test_parser_reads_a_day_before_the_time_for_events_of_several_days():
    lines = parse_programme(
        "do 19 november 09.30 uur opening\n20 nov 2014 10:00 ronde 1", year=2014
    )

    assert [(line.day, line.starts_at, line.item_type) for line in lines] == [
        (datetime.date(2014, 11, 19), T(9, 30), BLOCK),
        (datetime.date(2014, 11, 20), T(10, 0), ROUND),
    ]


def test_parser_empty_text_gives_no_lines():
    assert parse_programme("") == []
    assert parse_programme(" \n\t\n") == []


# The five seed programmes


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fixture", "slug", "text"),
    [
        ("zaanstad-2016.json", "zaanstad-werken-in-de-wijk-2016", ZAANSTAD_TEXT),
        ("dag-van-de-buurt-2021.json", "dag-van-de-buurt-2021", DVDB_TEXT),
    ],
)
def test_seed_programme_text_imports_to_the_fixture_structure(admin_client, fixture, slug, text):
    load(fixture)
    event = Event.objects.get(slug=slug)
    expected = structure(event)
    event.programme_blocks.all().delete()
    Round.objects.filter(event=event).delete()
    url = reverse("admin:events_event_programme_import", args=[event.pk])

    preview = admin_client.post(url, {"text": text, "preview": "1"})
    formset = preview.context["formset"]
    data = {"text": text, "save": "1", **formset_post_data(formset)}
    response = admin_client.post(url, data)

    assert response.status_code == 302
    assert structure(event) == expected


def test_year_programme_lines_give_the_dates_and_times_of_the_fixture_events(seed_fixtures):
    events = Event.objects.filter(series__slug="kennisnetwerk-amsterdam-jaarprogramma-2020")
    expected = [
        (event.start_date, event.start_time, event.end_time)
        for event in events.order_by("start_date")
        if event.start_time
    ]

    lines = parse_programme(JAARPROGRAMMA_TEXT, year=2020)

    assert [(line.day, line.starts_at, line.ends_at) for line in lines if line.is_item] == expected
    assert events.count() == len(expected) + 1  # 23 April: "tijd nader te bepalen"
    assert [line.text for line in lines if line.error][2].startswith("23 april, tijd nader")


@pytest.mark.parametrize("text", [LPB_TEXT, ESTAFETTE_TEXT])
def test_seeds_without_a_timetable_give_no_blocks_as_their_fixtures_have_none(text, seed_fixtures):
    slugs = ["lpb-congres-2014-groningen", "estafette-helmond-kompas-2019"]

    assert parsed(parse_programme(text, year=2018)) == []
    assert not ProgrammeBlock.objects.filter(event__slug__in=slugs).exists()
    assert not Round.objects.filter(event__slug__in=slugs).exists()


# The admin page


def formset_post_data(formset, changes=None):
    """POST data of a bound-looking formset from its initial forms, with `changes` per
    form index: {0: {"kind": "break"}}."""
    data = {
        f"{formset.prefix}-TOTAL_FORMS": str(len(formset.forms)),
        f"{formset.prefix}-INITIAL_FORMS": "0",
    }
    for index, form in enumerate(formset.forms):
        values = {**form.initial, **(changes or {}).get(index, {})}
        for name in form.fields:
            value = values.get(name)
            if value is None or value is False:
                continue
            if value is True:
                value = "on"
            elif isinstance(value, datetime.time):
                value = value.strftime("%H:%M")
            data[f"{formset.prefix}-{index}-{name}"] = str(value)
    return data


@pytest.fixture
def event(db):
    return EventFactory(start_date=datetime.date(2026, 10, 29))


def test_page_is_linked_from_the_event_change_page(admin_client, event):
    page = admin_client.get(reverse("admin:events_event_change", args=[event.pk]))

    assert reverse("admin:events_event_programme_import", args=[event.pk]) in page.content.decode()


def test_preview_shows_each_line_and_what_it_becomes_without_saving(admin_client, event):
    url = reverse("admin:events_event_programme_import", args=[event.pk])

    response = admin_client.post(url, {"text": "Programma\n16.00 uur: ronde 2", "preview": "1"})

    content = response.content.decode()
    assert "Geen tijd aan het begin van de regel: overgeslagen." in content
    assert 'value="Ronde 2"' in content
    assert [form.initial["add"] for form in response.context["formset"]] == [False, True]
    assert not Round.objects.filter(event=event).exists()


def test_corrections_in_the_preview_are_what_is_saved(admin_client, event):
    url = reverse("admin:events_event_programme_import", args=[event.pk])
    text = "12.30 lunch\n13.00 - 13.45 plenaire opening\n14:00 ronde A"
    formset = admin_client.post(url, {"text": text, "preview": "1"}).context["formset"]

    admin_client.post(
        url,
        {
            "text": text,
            "save": "1",
            **formset_post_data(
                formset,
                changes={
                    1: {"title": "Opening door de wethouder", "ends_at": "13.50"},
                    2: {"kind": "break"},
                },
            ),
        },
    )

    assert structure(event) == [
        (BLOCK, None, T(12, 30), None, "Lunch", "break", 1),
        (BLOCK, None, T(13, 0), T(13, 50), "Opening door de wethouder", "plenary", 2),
        (BLOCK, None, T(14, 0), None, "Ronde A", "break", 3),
    ]


def test_unticked_lines_are_not_saved_and_blocks_follow_existing_ones(admin_client, event):
    RoundFactory(event=event, title="Ronde 1", order=4)
    url = reverse("admin:events_event_programme_import", args=[event.pk])
    text = "15:00 ronde 2\n16:00 borrel"
    formset = admin_client.post(url, {"text": text, "preview": "1"}).context["formset"]
    data = {"text": text, "save": "1", **formset_post_data(formset)}
    del data["lines-1-add"]

    admin_client.post(url, data)

    assert list(event.rounds.values_list("title", "order")) == [("Ronde 1", 4), ("Ronde 2", 5)]
    assert not event.programme_blocks.exists()


def test_errors_in_the_preview_keep_what_was_typed_and_save_nothing(admin_client, event):
    RoundFactory(event=event, title="Ronde 1")
    url = reverse("admin:events_event_programme_import", args=[event.pk])
    text = "15:00 - 15:45 ronde 1\n16:00 - 16:45 ronde 2"
    formset = admin_client.post(url, {"text": text, "preview": "1"}).context["formset"]
    data = {"text": text, "save": "1", **formset_post_data(formset)}
    data["lines-1-ends_at"] = "15.30"

    response = admin_client.post(url, data)

    content = response.content.decode()
    assert response.status_code == 200
    assert "Het evenement heeft al een ronde met deze titel" in content
    assert "De eindtijd moet na de begintijd liggen." in content
    assert 'value="15.30"' in content
    assert list(event.rounds.values_list("title", flat=True)) == ["Ronde 1"]


@pytest.mark.parametrize(
    "data",
    [
        {"text": "", "preview": "1"},
        {"text": "x" * 20001, "preview": "1"},
        {"text": "14:00 ontvangst", "save": "1"},  # no formset at all
        {"text": "14:00 ontvangst", "save": "1", "lines-TOTAL_FORMS": "abc"},
        {
            "text": "14:00 x",
            "save": "1",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-add": "on",
            "lines-0-kind": "nonsense",
            "lines-0-starts_at": "99:99",
        },
    ],
)
def test_malformed_posts_give_the_form_again_not_a_500(admin_client, event, data):
    url = reverse("admin:events_event_programme_import", args=[event.pk])

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert not event.programme_blocks.exists() and not event.rounds.exists()


def test_nothing_ticked_says_so(admin_client, event):
    url = reverse("admin:events_event_programme_import", args=[event.pk])
    formset = admin_client.post(url, {"text": "14:00 x", "preview": "1"}).context["formset"]
    data = {"text": "14:00 x", "save": "1", **formset_post_data(formset)}
    del data["lines-0-add"]

    response = admin_client.post(url, data)

    assert "Vink bij minstens één regel" in response.content.decode()


def test_only_staff_who_may_change_events_can_import(client, event):
    url = reverse("admin:events_event_programme_import", args=[event.pk])
    viewer = User.objects.create_user("kijker", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_event"))

    anonymous = client.post(url, {"text": "14:00 ronde 1", "save": "1"})
    client.force_login(viewer)
    view_only = client.post(url, {"text": "14:00 ronde 1", "preview": "1"})

    assert anonymous.status_code == 302 and "/login/" in anonymous.url
    assert view_only.status_code == 403
    assert not event.rounds.exists()


def test_unknown_event_is_a_404(admin_client):
    assert admin_client.get("/admin/events/event/999999/programma-importeren/").status_code == 404


def test_preview_queries_do_not_grow_with_the_lines(
    admin_client, event, django_assert_max_num_queries
):
    url = reverse("admin:events_event_programme_import", args=[event.pk])
    text = "\n".join(f"{9 + n // 2:02d}:{30 * (n % 2):02d} onderdeel {n}" for n in range(20))
    admin_client.post(url, {"text": "14:00 x", "preview": "1"})  # warm the session

    with django_assert_max_num_queries(8):
        admin_client.post(url, {"text": text, "preview": "1"})
    formset = admin_client.post(url, {"text": text, "preview": "1"}).context["formset"]
    with django_assert_max_num_queries(12):
        admin_client.post(url, {"text": text, "save": "1", **formset_post_data(formset)})
    assert event.programme_blocks.count() == 20
