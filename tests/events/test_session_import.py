"""Sessions from a sheet: reading, checking, the seed session lists, and the admin page."""

import csv
import datetime
import io

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from events.models import Event, Session, SessionRole
from events.session_sheet import check_rows, read_sheet, save_rows
from speakers.models import Organisation, Speaker
from tests.factories import EventFactory, RoundFactory, SessionFactory, SpeakerFactory

HEADINGS = ["titel", "thema", "sessieleiders", "sprekers", "rondes", "plaatsen", "tafel of zaal"]

# The seven table sessions of the Zaanstad seed (000_c2793aff6c5e498f.txt) and the sessions of
# the Dag van de Buurt seed (002_f2baf1355f7e55d8.txt) as an organiser fills in the template:
# "(Suzanne van Eerden, gemeente Breda / Sander Siegmann, gemeente Amsterdam)" becomes two
# leaders with their organisation; "Door: …" in a workshop text becomes its people.
ZAANSTAD_ROWS = [
    (
        "Buurtbudgetten. Hoe ga je ermee om?",
        "",
        "Suzanne van Eerden (Gemeente Breda); Sander Siegmann (Gemeente Amsterdam)",
        "",
        "Ronde 1 tafelsessies; Ronde 2 tafelsessies",
        "12",
        "Tafel 1",
    ),
    (
        "Representativiteit & unusual suspects",
        "",
        "Ferenc van Damme (Provincie Overijssel)",
        "",
        "Ronde 1 tafelsessies; Ronde 2 tafelsessies",
        "12",
        "Tafel 2",
    ),
    (
        "Ontwikkelplannen voor de wijk",
        "",
        "Justus Vermeulen (Gemeente Amsterdam); Froukje Idsardi (Gemeente Zwolle)",
        "",
        "Ronde 1 tafelsessies; Ronde 2 tafelsessies",
        "12",
        "Tafel 3",
    ),
    (
        "Jongeren en lokale democratie",
        "",
        "Samuel Kaspers (Gemeente Zaanstad)",
        "",
        "Ronde 1 tafelsessies; Ronde 2 tafelsessies",
        "12",
        "Tafel 4",
    ),
    (
        "Buurtcoöperatie wat komt er bij kijken?",
        "",
        (
            "Jurgen van der Heijden (AT Osborne); David Kooi (Gemeente Zaanstad); "
            "Erwin Stam (Gemeente Zaanstad)"
        ),
        "",
        "Ronde 1 tafelsessies; Ronde 2 tafelsessies",
        "12",
        "Tafel 5",
    ),
    (
        "Doen wat goed en nodig is",
        "",
        "Jan van Ginkel (Gemeente Zaanstad)",
        "",
        "Ronde 1 tafelsessies; Ronde 2 tafelsessies",
        "12",
        "Tafel 6",
    ),
    (
        "Reikwijdte lokale democratie",
        "",
        "Jornt van Zuylen (Democratic Challenge)",
        "",
        "Ronde 1 tafelsessies; Ronde 2 tafelsessies",
        "12",
        "Tafel 7",
    ),
]

DVDB_ROWS = [
    (
        "ABCD in de wijkaanpak: van binnenuit met bewoners als programmamakers",
        "",
        "Birgit Oelkers",
        "",
        "Ronde 1; Ronde 2",
        "40",
        "Online zaal 1",
    ),
    (
        "Het nieuwe wijkgericht werken: organisatievorm, rollen en competenties",
        "",
        (
            "Jetze van der Ham (Platform31); Willem Stam (Gemeente Den Helder); "
            "Han van Geel (Gemeente Zutphen)"
        ),
        "",
        "Ronde 1; Ronde 2",
        "40",
        "Online zaal 2",
    ),
    (
        "Groningen experimenteert met zeggenschap",
        "Zeggenschap",
        "Liesbeth van de Wetering (Gemeente Groningen)",
        "",
        "Ronde 1",
        "40",
        "Online zaal 3",
    ),
    (
        "Samen werken aan Opgaven in wijk Overvecht (Project O)",
        "",
        "Arjen van Ree (Project O)",
        "",
        "Ronde 1",
        "40",
        "Online zaal 4",
    ),
    (
        "Vastgoed voor de buurt",
        "Wonen en vastgoed",
        "Maurice Specht; Arie Lengkeek",
        "",
        "Ronde 1",
        "40",
        "Online zaal 5",
    ),
    (
        "Innoveren in de wijkaanpak",
        "",
        (
            "Jornt van Zuylen (Gemeente Den Haag en Ministerie van Binnenlandse Zaken en "
            "Koninkrijksrelaties); "
            "Suzanne Potjer (Twynstra Gudde)"
        ),
        "",
        "Ronde 1",
        "40",
        "Online zaal 6",
    ),
    (
        "De energietransitie als vliegwiel voor een leefbare buurt",
        "Energietransitie",
        "Matthijs Uyterlinde (Platform31); Anne Kunst (Platform31)",
        "",
        "Ronde 1",
        "40",
        "Online zaal 7",
    ),
    ("Buurtagenda in een uur", "", "", "", "Ronde 1", "30", "Online zaal 8"),
    (
        "Zeggenschap door geld: de burgerbegroting",
        "Zeggenschap",
        "Joop Hofman (Rode Wouw)",
        "",
        "Ronde 1; Ronde 2",
        "40",
        "Online zaal 9",
    ),
    (
        "Van initiatief tot impact: strategie, tactiek en uitvoering voor veiligheidsinitiatieven",
        "Veiligheid",
        "Lucien Stöpler (Veiligheidsinitiatief)",
        "",
        "Ronde 1",
        "40",
        "Online zaal 10",
    ),
    (
        "Nieuwe leeragenda wijkaanpak - Vertrouwen in instituties en elkaar",
        "Nieuwe leeragenda wijkaanpak",
        "",
        "",
        "Ronde 1",
        "30",
        "Online zaal 11",
    ),
    (
        "Nieuwe leeragenda wijkaanpak - Integraal preventief signaleren",
        "Nieuwe leeragenda wijkaanpak",
        "",
        "",
        "Ronde 1",
        "30",
        "Online zaal 12",
    ),
    (
        "De Capability Approach in de praktijk",
        "",
        (
            "Erik Jansen (Hogeschool van Arnhem en Nijmegen); "
            "Annica Brummel (Hogeschool van Arnhem en Nijmegen)"
        ),
        "",
        "Ronde 1",
        "40",
        "Online zaal 13",
    ),
    (
        "Een veilige wijk? Kijk niet weg!",
        "Veiligheid",
        "Loes van der Wees (Openbaar Ministerie)",
        "",
        "Ronde 2",
        "40",
        "Online zaal 3",
    ),
    (
        "Hoe buurtplatform Hart voor de K-buurt werkt aan inclusieve burgermacht",
        "Zeggenschap",
        "Mike Brantjes (Hart voor de K-buurt); Roos van Schaijk (Movisie)",
        "",
        "Ronde 2",
        "40",
        "Online zaal 4",
    ),
    (
        "De corporatiesector in oude glorie herstellen?",
        "Wonen en vastgoed",
        "Jeroen van der Velden (Platform31)",
        "René Scherpenisse (Tiwos)",
        "Ronde 2",
        "40",
        "Online zaal 5",
    ),
    (
        "Met wijkeconomie naar wijkontwikkeling: de Afrikaanderwijk Coöperatie",
        "",
        "Annet van Otterloo (Afrikaanderwijk Coöperatie)",
        "",
        "Ronde 2",
        "40",
        "Online zaal 6",
    ),
    ("Wijkaanpak en de ‘commons’", "", "", "", "Ronde 2", "40", "Online zaal 7"),
    (
        "Sociale basis heroveren op het sociaal domein!",
        "",
        "Han van Geel (Gemeente Zutphen); Mariel van Pelt (Movisie)",
        "",
        "Ronde 2",
        "40",
        "Online zaal 8",
    ),
    (
        "Nieuwe leeragenda wijkaanpak - gemengde wijken",
        "Nieuwe leeragenda wijkaanpak",
        "",
        "",
        "Ronde 2",
        "30",
        "Online zaal 10",
    ),
    (
        "Lessen uit de stadsvernieuwing voor verduurzaming",
        "Energietransitie",
        "Paul Vlaar (Hoogkamp Energie)",
        "",
        "Ronde 2",
        "40",
        "Online zaal 11",
    ),
    (
        "Sociaal-fysieke wijkaanpak: hoe doe je dat?",
        "",
        (
            "Sandy Deckers (Stadsregio Parkstad Limburg); Marijn Freud (Gemeente Zaanstad); "
            "Astrid Kroos (Nationaal Programma Rotterdam Zuid); Matthijs Uyterlinde (Platform31); "
            "Simone 't Hooft (Platform31)"
        ),
        "",
        "Ronde 2",
        "60",
        "Online zaal 12",
    ),
    (
        "Bouwen aan buurtgeluk",
        "Wonen en vastgoed",
        (
            "Yffi van den Berg (ERA Contour); Jeffrey Bolhuis (AP+E Design en Research); "
            "Frank Wassenberg (Platform31); Mees Zonneveld (Platform31)"
        ),
        "",
        "Ronde 2",
        "60",
        "Online zaal 13",
    ),
]


def csv_file(rows, headings=HEADINGS, delimiter=";", encoding="utf-8-sig"):
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter)
    writer.writerow(headings)
    writer.writerows(rows)
    return SimpleUploadedFile("sessies.csv", text.getvalue().encode(encoding), "text/csv")


def xlsx_file(rows, headings=HEADINGS):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sessies"
    sheet.append(headings)
    for row in rows:
        sheet.append([int(cell) if cell.isdigit() else cell for cell in row])
    content = io.BytesIO()
    workbook.save(content)
    return SimpleUploadedFile("sessies.xlsx", content.getvalue(), XLSX)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def load(name):
    call_command("loaddata", settings.BASE_DIR / "fixtures" / name, verbosity=0)


def sessions_structure(event, *, order_in_rounds=True):
    """Per session: title, theme, people (role, name, what follows the name) and rounds
    (title, seats, table); and per round the session titles in the order shown.

    A sheet orders the sessions of every round by its rows; the Dag van de Buurt lists its
    second round in an order of its own, so for it only which sessions a round has counts.
    """
    sessions = []
    for session in Session.objects.filter(event=event).order_by("order", "pk"):
        people = [
            (role.role, role.speaker.name, role.shown_affiliation)
            for role in session.roles.order_by("order", "pk")
        ]
        offerings = [
            (offering.round.title, offering.capacity, offering.location)
            for offering in session.offerings.order_by("round__order")
        ]
        sessions.append((session.title, session.theme, people, offerings))
    rounds = [
        [o.session.title for o in r.offerings.order_by("order", "session__order", "pk")]
        for r in event.rounds.order_by("order")
    ]
    if not order_in_rounds:
        rounds = [sorted(titles) for titles in rounds]
    return sessions, rounds


def upload(client, event, file):
    url = reverse("admin:events_event_session_import", args=[event.pk])
    return client.post(url, {"sheet": file})


def upload_and_save(client, event, file):
    preview = upload(client, event, file)
    assert preview.context["save_form"] is not None, [
        (row.number, row.errors) for row in preview.context["rows"] or [] if row.errors
    ] or preview.context["sheet_errors"]
    rows = preview.context["save_form"].initial["rows"]
    url = reverse("admin:events_event_session_import", args=[event.pk])
    return client.post(url, {"rows": rows})


# The seed session lists


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fixture", "slug", "rows", "make_file"),
    [
        ("zaanstad-2016.json", "zaanstad-werken-in-de-wijk-2016", ZAANSTAD_ROWS, csv_file),
        ("zaanstad-2016.json", "zaanstad-werken-in-de-wijk-2016", ZAANSTAD_ROWS, xlsx_file),
        ("dag-van-de-buurt-2021.json", "dag-van-de-buurt-2021", DVDB_ROWS, xlsx_file),
    ],
)
def test_seed_session_list_imports_to_the_fixture_structure(
    admin_client, fixture, slug, rows, make_file
):
    load(fixture)
    event = Event.objects.get(slug=slug)
    in_order = fixture != "dag-van-de-buurt-2021.json"
    expected = sessions_structure(event, order_in_rounds=in_order)
    speakers_before = Speaker.objects.count()
    Session.objects.filter(event=event).delete()

    response = upload_and_save(admin_client, event, make_file(rows))

    assert response.status_code == 302
    assert sessions_structure(event, order_in_rounds=in_order) == expected
    assert Speaker.objects.count() == speakers_before  # everyone matched, nobody doubled


def test_zaanstad_sessions_into_an_empty_site_create_speakers_and_organisations(admin_client):
    event = EventFactory()
    for number in (1, 2):
        RoundFactory(event=event, title=f"Ronde {number} tafelsessies", order=number)

    upload_and_save(admin_client, event, csv_file(ZAANSTAD_ROWS))

    leaders = SessionRole.objects.filter(session__event=event)
    assert leaders.count() == 11
    assert Speaker.objects.count() == 11
    assert sorted(Organisation.objects.values_list("name", flat=True)) == [
        "AT Osborne",
        "Democratic Challenge",
        "Gemeente Amsterdam",
        "Gemeente Breda",
        "Gemeente Zaanstad",
        "Gemeente Zwolle",
        "Provincie Overijssel",
    ]
    assert Speaker.objects.get(name="David Kooi").organisation.name == "Gemeente Zaanstad"
    assert event.offerings.count() == 14


# Reading and checking


@pytest.fixture
def event(db):
    event = EventFactory(start_date=datetime.date(2026, 10, 29))
    RoundFactory(event=event, title="Ronde 1", order=1, starts_at=datetime.time(14))
    RoundFactory(event=event, title="Ronde 2", order=2, starts_at=datetime.time(15))
    return event


def test_speaker_with_another_organisation_keeps_the_speaker_and_shows_the_new_one(event):
    known = SpeakerFactory(name="Jornt van Zuylen", organisation__name="Democratic Challenge")
    rows = read_sheet(
        csv_file([("Innoveren", "", "Jornt van Zuylen (Gemeente Den Haag)", "", "1", "", "")])
    )

    (session,) = save_rows(event, check_rows(event, rows))

    role = session.roles.get()
    assert (role.speaker, role.affiliation, role.shown_affiliation) == (
        known,
        "Gemeente Den Haag",
        "Gemeente Den Haag",
    )


def test_rounds_by_number_and_one_location_for_every_round(event):
    rows = read_sheet(csv_file([("Sessie", "", "", "", "1; 2", "", "Tafel 3")]))

    (session,) = save_rows(event, check_rows(event, rows))

    assert list(session.offerings.values_list("round__title", "capacity", "location")) == [
        ("Ronde 1", None, "Tafel 3"),
        ("Ronde 2", None, "Tafel 3"),
    ]


def test_kind_column_is_shown_and_saved_as_the_sessions_kind(admin_client, event):
    headings = ["titel", "soort", "rondes"]
    rows = [("Sessie", "Workshop", "Ronde 1")]

    preview = upload(admin_client, event, csv_file(rows, headings=headings))
    assert preview.context["rows"][0].kind == "Workshop"
    assert "Workshop" in preview.content.decode()
    sheet = read_sheet(csv_file(rows, headings=headings))
    (session,) = save_rows(event, check_rows(event, sheet))

    assert session.kind.code == "workshop"


def test_an_unknown_kind_is_a_row_error(event):
    rows = read_sheet(
        csv_file([("Sessie", "Zwemles", "Ronde 1")], headings=["titel", "soort", "rondes"])
    )

    [row] = check_rows(event, rows)

    assert any("Onbekende soort “Zwemles”" in str(error) for error in row.errors)


def test_csv_with_commas_and_windows_encoding_is_read(event):
    file = csv_file(
        [("Café in de wijk", "", "", "", "Ronde 1", "12", "")], delimiter=",", encoding="cp1252"
    )

    (row,) = check_rows(event, read_sheet(file))

    assert (row.title, row.capacity, row.errors) == ("Café in de wijk", 12, [])


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (SimpleUploadedFile("leeg.csv", b""), "bestand is leeg."),
        (SimpleUploadedFile("foto.xlsx", b"PK\x03\x04kapot"), "geen Excel- (.xlsx) of CSV-bestand"),
        (
            SimpleUploadedFile("foto.png", b"\x89PNG\r\n\x1a\n\x00\x00"),
            "geen Excel- (.xlsx) of CSV-bestand",
        ),
        (SimpleUploadedFile("kop.csv", b"titel;rondes\n"), "wel kopjes maar geen sessies"),
        (SimpleUploadedFile("kolom.csv", b"titel;zaal\nSessie;3\n"), "Onbekende kolom “zaal”"),
        (SimpleUploadedFile("kolom.csv", b"titel\nSessie\n"), "De kolom “rondes” ontbreekt."),
        (SimpleUploadedFile("witregels.csv", b"\n;;\n\n"), "Het blad heeft geen rijen."),
    ],
)
def test_a_file_that_is_no_usable_sheet_gets_one_clear_message(admin_client, event, file, message):
    response = upload(admin_client, event, file)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["save_form"] is None
    assert not Session.objects.filter(event=event).exists()


def test_every_row_in_error_gets_its_own_message_and_nothing_is_saved(admin_client, event):
    SessionFactory(event=event, title="Bestaat al")
    rows = [
        ("Goed", "", "Anna (Wijkteam)", "", "Ronde 1", "12", "Tafel 1"),
        ("", "", "", "", "Ronde 1", "", ""),
        ("Onbekende ronde", "", "", "", "Ronde 3", "", ""),
        ("Goed", "", "", "", "Ronde 2", "", ""),
        ("Tekst als plaatsen", "", "", "", "Ronde 1", "twaalf", ""),
        ("Zonder ronde", "", "", "", "", "", ""),
        ("Bestaat al", "", "", "", "Ronde 1", "", ""),
        ("Min plaatsen", "", "", "", "Ronde 1", "-3", ""),
    ]

    response = upload(admin_client, event, csv_file(rows))

    errors = {row.number: row.errors for row in response.context["rows"]}
    assert errors == {
        2: [],
        3: ["De titel is leeg."],
        4: ["Onbekende ronde “Ronde 3”. Dit evenement heeft: Ronde 1, Ronde 2."],
        5: ["Dezelfde sessie als in rij 2."],
        6: ["“twaalf” in de kolom plaatsen is geen aantal plaatsen."],
        7: ["Noem minstens één ronde, bijvoorbeeld “Ronde 1”."],
        8: ["Dit evenement heeft al een sessie met deze titel."],
        9: ["“-3” in de kolom plaatsen is geen aantal plaatsen."],
    }
    content = response.content.decode()
    assert "7 rijen moeten verbeterd worden." in content
    assert response.context["save_form"] is None
    assert list(Session.objects.filter(event=event).values_list("title", flat=True)) == [
        "Bestaat al"
    ]
    assert not Speaker.objects.filter(name="Anna").exists()


def test_a_tampered_or_stale_preview_is_refused(admin_client, event):
    url = reverse("admin:events_event_session_import", args=[event.pk])

    tampered = admin_client.post(url, {"rows": "nep"})

    assert "Het voorbeeld is verlopen" in tampered.content.decode()
    assert not Session.objects.filter(event=event).exists()


def test_a_session_added_since_the_preview_makes_the_save_show_the_rows_again(admin_client, event):
    preview = upload(admin_client, event, csv_file([("Sessie", "", "", "", "Ronde 1", "", "")]))
    SessionFactory(event=event, title="Sessie")

    response = admin_client.post(
        reverse("admin:events_event_session_import", args=[event.pk]),
        {"rows": preview.context["save_form"].initial["rows"]},
    )

    assert response.status_code == 200
    assert response.context["rows"][0].errors == [
        "Dit evenement heeft al een sessie met deze titel."
    ]
    assert Session.objects.filter(event=event).count() == 1


def test_a_preview_of_one_event_cannot_be_saved_into_another(admin_client, event):
    other = EventFactory()
    RoundFactory(event=other, title="Ronde 1")
    preview = upload(admin_client, event, csv_file([("Sessie", "", "", "", "Ronde 1", "", "")]))

    admin_client.post(
        reverse("admin:events_event_session_import", args=[other.pk]),
        {"rows": preview.context["save_form"].initial["rows"]},
    )

    assert not Session.objects.exists()


def test_template_download_has_the_headings_the_import_reads(admin_client, event):
    response = admin_client.get(reverse("admin:events_event_session_template", args=[event.pk]))

    workbook = load_workbook(io.BytesIO(response.content))
    headings = [cell.value for cell in workbook["Sessies"][1]]
    assert response["Content-Type"] == XLSX
    assert headings == [
        "titel", "thema", "soort", "korte tekst", "tekst", "sessieleiders", "sprekers",
        "rondes", "plaatsen", "tafel of zaal",
    ]  # fmt: skip
    assert workbook.sheetnames == ["Sessies", "Uitleg"]


def test_filled_in_template_imports(admin_client, event):
    response = admin_client.get(reverse("admin:events_event_session_template", args=[event.pk]))
    workbook = load_workbook(io.BytesIO(response.content))
    workbook["Sessies"].append(
        [
            "Sessie",
            "Wonen",
            "workshop",
            "Kort",
            "Lang",
            "Anna (Wijkteam)",
            "",
            "Ronde 2",
            8,
            "Zaal A",
        ]
    )
    content = io.BytesIO()
    workbook.save(content)

    upload_and_save(admin_client, event, SimpleUploadedFile("s.xlsx", content.getvalue()))

    session = Session.objects.get(event=event)
    assert (session.title, session.theme, session.summary, session.description) == (
        "Sessie", "Wonen", "Kort", "Lang"
    )  # fmt: skip
    assert list(session.offerings.values_list("round__title", "capacity", "location")) == [
        ("Ronde 2", 8, "Zaal A")
    ]


def test_page_is_linked_from_the_event_change_page(admin_client, event):
    page = admin_client.get(reverse("admin:events_event_change", args=[event.pk]))

    assert reverse("admin:events_event_session_import", args=[event.pk]) in page.content.decode()


def test_only_staff_who_may_change_events_can_import_sessions(client, event):
    url = reverse("admin:events_event_session_import", args=[event.pk])
    viewer = User.objects.create_user("kijker", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(viewer)

    upload_response = client.post(url, {"sheet": csv_file([("S", "", "", "", "1", "", "")])})
    template = client.get(reverse("admin:events_event_session_template", args=[event.pk]))

    assert (upload_response.status_code, template.status_code) == (403, 403)
    assert not Session.objects.filter(event=event).exists()


def test_queries_do_not_grow_with_the_rows(admin_client, event, django_assert_max_num_queries):
    SpeakerFactory(name="Persoon 1", organisation__name="Org 1")
    rows = [
        (f"Sessie {n}", "", f"Persoon {n} (Org {n}); Nieuw {n} (Org {n})", "", "1; 2", "10", "")
        for n in range(40)
    ]
    upload(admin_client, event, csv_file(rows[:1]))  # warm the session

    with django_assert_max_num_queries(12):
        preview = upload(admin_client, event, csv_file(rows))
    with django_assert_max_num_queries(25):
        admin_client.post(
            reverse("admin:events_event_session_import", args=[event.pk]),
            {"rows": preview.context["save_form"].initial["rows"]},
        )
    assert event.offerings.count() == 80
    assert Speaker.objects.count() == 80


def test_two_speakers_of_one_name_need_the_organisation(event):
    SpeakerFactory(name="Jan de Vries", organisation__name="Gemeente Breda")
    wanted = SpeakerFactory(name="Jan de Vries", organisation__name="Gemeente Zwolle")
    rows = [
        ("Zonder organisatie", "", "Jan de Vries", "", "1", "", ""),
        ("Met organisatie", "", "Jan de Vries (gemeente zwolle)", "", "1", "", ""),
    ]

    checked = check_rows(event, read_sheet(csv_file(rows)))

    assert [row.errors for row in checked] == [
        [
            "Er zijn meerdere sprekers met de naam Jan de Vries; zet de organisatie erbij "
            "zoals die op hun sprekerspagina staat."
        ],
        [],
    ]
    (session,) = save_rows(event, checked[1:])
    assert session.roles.get().speaker == wanted
