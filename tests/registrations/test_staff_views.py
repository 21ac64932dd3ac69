"""Moderator and organiser pages: who may see them, and what they show."""

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from openpyxl import load_workbook

from events.models import Event, Round, Session
from registrations import services
from registrations.attendees import surname_key
from registrations.models import ExportColumns, Registration
from tests.factories import build_programme, offerings_by_round, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(moderator, organiser):
    event = build_programme(sessions=2, rounds=2, capacity=100)
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 2
    offering.save()
    people = [
        ("Jos van der Lans", "resident"),
        ("Anna de Boer", "civil_servant"),
        ("Piet Aarts", "professional"),
    ]
    registrations = [
        services.register_attendee(
            event,
            person=services.Person(
                name=name,
                email=f"p{i}@example.nl",
                role=role,
                organisation="Gemeente Ede",
                question="Hoe doen jullie dat?" if i == 0 else "",
            ),
            offering_ids=[offering.pk],
        ).registration
        for i, (name, role) in enumerate(people)
    ]
    offering.moderators.add(moderator)
    other = User.objects.create_user("ander", password="x")
    offerings_by_round(event)[1][0].moderators.add(other)
    participant = User.objects.create_user("deelnemer", password="x")
    return {
        "event": event,
        "offering": offering,
        "registrations": registrations,
        "users": {
            "participant": participant,
            "other_moderator": other,
            "moderator": moderator,
            "organiser": organiser,
        },
    }


def _urls(setup):
    offering, event = setup["offering"], setup["event"]
    return {
        "offering_list": reverse("registrations:offering_attendees", args=[offering.pk]),
        "offering_csv": reverse("registrations:offering_export", args=[offering.pk, "csv"]),
        "offering_xlsx": reverse("registrations:offering_export", args=[offering.pk, "xlsx"]),
        "offering_checkin": reverse("registrations:offering_checkin", args=[offering.pk]),
        "cue_card": reverse("registrations:offering_cue_card", args=[offering.pk]),
        "event_list": reverse("registrations:event_attendees", args=[event.pk]),
        "event_csv": reverse("registrations:event_export", args=[event.pk, "csv"]),
        "event_checkin": reverse("registrations:event_checkin", args=[event.pk]),
        "overview": reverse("registrations:event_overview", args=[event.pk]),
        "all_csv": reverse("registrations:event_registrations_csv", args=[event.pk]),
    }


# Expected status per user for each personal-data view.
EXPECTED = {
    "offering_list": {
        "participant": 403,
        "other_moderator": 403,
        "moderator": 200,
        "organiser": 200,
    },
    "offering_csv": {
        "participant": 403,
        "other_moderator": 403,
        "moderator": 200,
        "organiser": 200,
    },
    "offering_xlsx": {
        "participant": 403,
        "other_moderator": 403,
        "moderator": 200,
        "organiser": 200,
    },
    "offering_checkin": {
        "participant": 403,
        "other_moderator": 403,
        "moderator": 200,
        "organiser": 200,
    },
    "cue_card": {
        "participant": 403,
        "other_moderator": 403,
        "moderator": 200,
        "organiser": 200,
    },
    "event_list": {"participant": 403, "other_moderator": 403, "moderator": 403, "organiser": 200},
    "event_csv": {"participant": 403, "other_moderator": 403, "moderator": 403, "organiser": 200},
    "event_checkin": {
        "participant": 403,
        "other_moderator": 403,
        "moderator": 403,
        "organiser": 200,
    },
    "overview": {"participant": 403, "other_moderator": 403, "moderator": 403, "organiser": 200},
    "all_csv": {"participant": 403, "other_moderator": 403, "moderator": 403, "organiser": 200},
}


@pytest.mark.parametrize("view", sorted(EXPECTED))
def test_anonymous_visitor_is_sent_to_login(client, setup, view):
    url = _urls(setup)[view]

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("view", sorted(EXPECTED))
@pytest.mark.parametrize("who", ["participant", "other_moderator", "moderator", "organiser"])
def test_personal_data_views_answer_by_role(client, setup, view, who):
    client.force_login(setup["users"][who])

    response = client.get(_urls(setup)[view])

    assert response.status_code == EXPECTED[view][who]
    if response.status_code == 403:
        assert b"Jos van der Lans" not in response.content


def test_event_moderator_sees_event_and_its_session_lists(client, setup):
    event_moderator = User.objects.create_user("dagvoorzitter", password="x")
    setup["event"].moderators.add(event_moderator)
    client.force_login(event_moderator)

    responses = [client.get(url) for url in _urls(setup).values()]

    assert [r.status_code for r in responses] == [200] * 8 + [403, 403]


def test_surname_sort_ignores_dutch_particles():
    names = ["Jos van der Lans", "Anna de Boer", "Piet Aarts", "Karel ter Horst"]

    assert sorted(names, key=surname_key) == [
        "Piet Aarts",
        "Anna de Boer",
        "Karel ter Horst",
        "Jos van der Lans",
    ]


def test_sign_in_sheet_lists_confirmed_by_surname_and_waiting_apart(client, setup):
    client.force_login(setup["users"]["moderator"])

    response = client.get(_urls(setup)["offering_list"])

    attendee_list = response.context["list"]
    assert [row.name for row in attendee_list.confirmed] == ["Anna de Boer", "Jos van der Lans"]
    assert [row.name for row in attendee_list.waiting] == ["Piet Aarts"]
    content = response.content.decode()
    assert "2 deelnemers" in content
    assert "Handtekening" in content
    assert "Hoe doen jullie dat?" in content
    assert setup["offering"].round.title in content


def test_csv_export_has_bom_semicolons_and_accents(client, setup):
    client.force_login(setup["users"]["moderator"])

    response = client.get(_urls(setup)["offering_csv"])

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Nr.", "Naam", "Organisatie"]
    assert [row[1] for row in rows[1:]] == ["Anna de Boer", "Jos van der Lans", "Piet Aarts"]
    assert [row[5] for row in rows[1:]] == ["bevestigd", "bevestigd", "wachtlijst"]


def test_csv_export_with_comma_option(client, setup):
    client.force_login(setup["users"]["moderator"])

    response = client.get(_urls(setup)["offering_csv"], {"delimiter": "comma"})

    header = response.content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Nr.,Naam,Organisatie")


def test_xlsx_export_has_participants_and_presence(client, setup):
    client.force_login(setup["users"]["moderator"])
    choice = setup["registrations"][1].choices.get()
    client.post(_urls(setup)["offering_checkin"], {"pk": choice.pk, "present": "1"})

    response = client.get(_urls(setup)["offering_xlsx"])

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=5)]
    assert [(row[1], row[5], row[6]) for row in rows] == [
        ("Anna de Boer", "bevestigd", "ja"),
        ("Jos van der Lans", "bevestigd", "nee"),
        ("Piet Aarts", "wachtlijst", None),
    ]
    assert sheet["A1"].value == setup["event"].title


def test_unknown_export_format_is_404(client, setup):
    client.force_login(setup["users"]["moderator"])

    response = client.get(
        reverse("registrations:offering_export", args=[setup["offering"].pk, "pdf"])
    )

    assert response.status_code == 404


def test_exports_of_rows_with_control_characters_are_readable(client, setup):
    # Stored before the forms dropped them: a vertical tab (Word's Shift+Enter), ESC, SOH.
    anna = setup["registrations"][1]
    Registration.objects.filter(pk=anna.pk).update(
        name="Anna\x0bde Boer",
        organisation="Gemeente\x1b[31m Ede\x01",
        function="beleids\x0cmedewerker",
        question="Hoe\x0bdan?\x07\uffff",
    )
    client.force_login(setup["users"]["organiser"])
    event_xlsx = reverse("registrations:event_export", args=[setup["event"].pk, "xlsx"])

    responses = [client.get(url) for url in (_urls(setup)["offering_xlsx"], event_xlsx)]
    all_csv = client.get(_urls(setup)["all_csv"]).content.decode("utf-8-sig")

    assert [response.status_code for response in responses] == [200, 200]
    for response in responses:
        sheet = load_workbook(io.BytesIO(response.content)).active
        [row] = [row for row in sheet.iter_rows(min_row=5, values_only=True) if "Anna" in row[1]]
        assert row[1:4] == ("Anna de Boer", "Gemeente[31m Ede", "beleids medewerker")
        assert row[7] == "Hoe\ndan?"
    rows = list(csv.reader(io.StringIO(all_csv), delimiter=";"))
    [row] = [row for row in rows if row[1] == anna.email]
    assert (row[0], row[2], row[3], row[-1]) == (
        "Anna de Boer",
        "Gemeente[31m Ede",
        "beleids medewerker",
        "Hoe\ndan?",
    )


def test_titles_in_exports_are_text_not_formulas(client, setup):
    event, offering = setup["event"], setup["offering"]
    Event.objects.filter(pk=event.pk).update(title="=1+1")
    Session.objects.filter(pk=offering.session_id).update(title='=HYPERLINK("http://x","klik")')
    Round.objects.filter(pk=offering.round_id).update(title="@SUM(1)")
    client.force_login(setup["users"]["organiser"])

    sheet = load_workbook(io.BytesIO(client.get(_urls(setup)["offering_xlsx"]).content)).active
    all_csv = client.get(_urls(setup)["all_csv"]).content.decode("utf-8-sig")

    assert (sheet["A1"].value, sheet["A1"].data_type, sheet["A1"].quotePrefix) == (
        "=1+1",
        "s",
        True,
    )
    assert sheet["A2"].data_type == "s"
    assert sheet["A2"].value.startswith('=HYPERLINK("http://x","klik") – @SUM(1), ')
    rows = list(csv.reader(io.StringIO(all_csv), delimiter=";"))
    assert "'@SUM(1)" in rows[0]
    assert rows[1][9] == '\'=HYPERLINK("http://x","klik")'


def test_checkin_without_javascript_saves_and_redirects_back(client, setup):
    client.force_login(setup["users"]["moderator"])
    choice = setup["registrations"][0].choices.get()
    url = _urls(setup)["offering_checkin"]

    response = client.post(url, {"pk": choice.pk, "present": "1", "next": f"{url}?q=jos"})

    choice.refresh_from_db()
    assert choice.checked_in_at is not None
    assert response.status_code == 302
    assert response["Location"] == f"{url}?q=jos&gemeld={choice.pk}"
    page = client.get(url)
    assert (page.context["list"].present_count, page.context["list"].absent_count) == (1, 1)


def test_checkin_without_javascript_gives_the_focus_back_and_says_what_changed(client, setup):
    client.force_login(setup["users"]["moderator"])
    choice = setup["registrations"][0].choices.get()
    url = _urls(setup)["offering_checkin"]

    marked = client.post(url, {"pk": choice.pk, "present": "1", "next": url})
    page = client.get(marked["Location"]).content.decode()
    unmarked = client.post(url, {"pk": choice.pk, "present": "0", "next": marked["Location"]})
    page_after_undo = client.get(unmarked["Location"]).content.decode()

    # The marked row's button, and no other, takes the focus when the page loads.
    assert page.count("autofocus") == 1
    row = page[page.index(f'id="row-{choice.pk}"') :]
    assert row.index("autofocus") < row.index("</li>")
    assert 'role="status">Jos van der Lans is aanwezig gemeld.</p>' in page
    # The marked row is not carried from one round trip to the next.
    assert unmarked["Location"] == f"{url}?gemeld={choice.pk}"
    assert 'role="status">Jos van der Lans is niet meer aanwezig gemeld.</p>' in page_after_undo


def test_checkin_page_without_a_marked_row_focuses_nothing(client, setup):
    client.force_login(setup["users"]["moderator"])
    url = _urls(setup)["offering_checkin"]

    page = client.get(url, {"gemeld": "999999"}).content.decode()

    assert "autofocus" not in page
    assert 'role="status"></p>' in page


def test_checkin_with_javascript_answers_json_and_can_undo(client, setup):
    client.force_login(setup["users"]["moderator"])
    choice = setup["registrations"][0].choices.get()
    url = _urls(setup)["offering_checkin"]

    on = client.post(url, {"pk": choice.pk, "present": "1"}, headers={"accept": "application/json"})
    off = client.post(
        url, {"pk": choice.pk, "present": "0"}, headers={"accept": "application/json"}
    )

    assert on.json() == {"pk": choice.pk, "present": True}
    assert off.json() == {"pk": choice.pk, "present": False}
    choice.refresh_from_db()
    assert choice.checked_in_at is None


def test_checkin_refuses_rows_of_other_lists(client, setup):
    client.force_login(setup["users"]["moderator"])
    waiting_choice = setup["registrations"][2].choices.get()

    response = client.post(
        _urls(setup)["offering_checkin"], {"pk": waiting_choice.pk, "present": "1"}
    )
    bad = client.post(_urls(setup)["offering_checkin"], {"pk": "x", "present": "1"})

    assert response.status_code == 404
    assert bad.status_code == 400
    waiting_choice.refresh_from_db()
    assert waiting_choice.checked_in_at is None


def test_checkin_search_filters_rows(client, setup):
    client.force_login(setup["users"]["moderator"])

    response = client.get(_urls(setup)["offering_checkin"], {"q": "lans"})

    assert [row.name for row in response.context["rows"]] == ["Jos van der Lans"]


def test_event_checkin_marks_registration_present(client, setup):
    client.force_login(setup["users"]["organiser"])
    registration = setup["registrations"][0]

    client.post(_urls(setup)["event_checkin"], {"pk": registration.pk, "present": "1"})

    registration.refresh_from_db()
    assert registration.checked_in_at is not None


def test_my_sessions_lists_only_own_offerings_with_counts(client, setup):
    client.force_login(setup["users"]["moderator"])

    response = client.get(reverse("registrations:my_sessions"))

    [offering] = response.context["offerings"]
    assert offering == setup["offering"]
    assert (offering.confirmed, offering.waiting) == (2, 1)


def test_overview_shows_fill_rates_roles_and_counts(client, setup):
    services.cancel_registration(setup["registrations"][0])
    client.force_login(setup["users"]["organiser"])

    response = client.get(_urls(setup)["overview"])

    context = response.context
    assert (context["confirmed"], context["waiting"], context["cancelled"]) == (2, 0, 1)
    first_line = context["rounds"][0]["lines"][0]
    assert first_line["offering"] == setup["offering"]
    assert (first_line["offering"].confirmed, first_line["offering"].cancelled) == (2, 1)
    # resident, civil servant, professional, ... as in Registration.Role
    assert first_line["roles"] == [0, 1, 1, 0, 0, 0]
    assert '<meter min="0" max="2" value="2"' in response.content.decode()


def test_all_registrations_csv_has_emails_and_round_choices(client, setup):
    client.force_login(setup["users"]["organiser"])

    response = client.get(_urls(setup)["all_csv"])

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    rounds = list(setup["event"].rounds.order_by("starts_at").values_list("title", flat=True))
    assert rows[0][9:11] == rounds
    assert [row[1] for row in rows[1:]] == ["p0@example.nl", "p1@example.nl", "p2@example.nl"]
    assert rows[3][9] == f"{setup['offering'].session.title} (wachtlijst)"


def test_event_admin_links_to_overview(admin_client, setup):
    response = admin_client.get(reverse("admin:events_event_change", args=[setup["event"].pk]))

    assert (
        reverse("registrations:event_overview", args=[setup["event"].pk])
        in response.content.decode()
    )


def test_login_page_is_dutch_and_logs_in(client, setup):
    page = client.get(reverse("login"))
    response = client.post(
        reverse("login"), {"username": "moderator", "password": "x", "next": "/mijn-sessies/"}
    )

    assert "Inloggen" in page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == "/mijn-sessies/"


def test_password_reset_mails_a_link(client, setup, mailoutbox):
    user = setup["users"]["moderator"]
    user.email = "moderator@example.nl"
    user.save()

    response = client.post(reverse("password_reset"), {"email": "moderator@example.nl"})

    assert response.status_code == 302
    [message] = mailoutbox
    assert message.to == ["moderator@example.nl"]
    assert "/account/reset/" in message.body


def test_overview_shows_role_mix_against_reservation(client, setup):
    from django.utils import timezone

    setup["offering"].seat_reservations.create(
        event=setup["event"], role="resident", share=50, released_at=timezone.now()
    )
    client.force_login(setup["users"]["organiser"])

    response = client.get(_urls(setup)["overview"])

    [reservation] = response.context["rounds"][0]["lines"][0]["reservations"]
    assert (reservation["seats"], reservation["held"]) == (1, 1)  # Jos is a resident
    assert "1 van 1 plekken gereserveerd voor bewoner bezet" in response.content.decode()


def test_exports_quote_spreadsheet_formulas(one_seat_event, client):
    event, offering = one_seat_event
    services.register_attendee(
        event, person=person(1, name='=HYPERLINK("http://x","klik")'), offering_ids=[offering.pk]
    )
    organiser = User.objects.create_superuser("org", "o@example.nl", "x")
    client.force_login(organiser)

    xlsx = client.get(reverse("registrations:offering_export", args=[offering.pk, "xlsx"]))
    csv_text = client.get(
        reverse("registrations:offering_export", args=[offering.pk, "csv"])
    ).content.decode("utf-8-sig")

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    # A text cell that stays text when edited, without a visible apostrophe.
    assert (sheet["B5"].data_type, sheet["B5"].quotePrefix) == ("s", True)
    assert sheet["B5"].value == '=HYPERLINK("http://x","klik")'
    data_row = csv_text.splitlines()[1]
    assert data_row.startswith("1;\"'=HYPERLINK(")


def test_my_sessions_counts_are_not_multiplied_by_other_moderators(one_seat_event, client):
    event, offering = one_seat_event
    services.register_attendee(event, person=person(1), offering_ids=[offering.pk])
    me = User.objects.create_user("ik", password="x")
    event.moderators.add(me)
    offering.moderators.add(User.objects.create_user("a"), User.objects.create_user("b"))
    client.force_login(me)

    response = client.get(reverse("registrations:my_sessions"))

    [line] = response.context["offerings"]
    assert line.confirmed == 1


def test_cue_card_has_what_a_chair_needs_to_introduce_the_session(client, setup):
    offering = setup["offering"]
    leader = offering.session.roles.select_related("speaker").order_by("order", "pk").first()
    leader.speaker.biography = "Werkt al twintig jaar in de wijk. " + "Lang verhaal. " * 80
    leader.speaker.save()
    offering.location = "Tafel 3"
    offering.save()
    client.force_login(setup["users"]["moderator"])

    response = client.get(_urls(setup)["cue_card"])

    content = response.content.decode()
    assert offering.session.title in content
    assert offering.round.title in content
    starts, ends = (f"{time:%H:%M}" for time in (offering.round.starts_at, offering.round.ends_at))
    assert f"<time>{starts}</time> – <time>{ends}</time>" in content
    assert "Tafel 3" in content
    assert leader.speaker.name in content
    assert "Werkt al twintig jaar in de wijk." in content
    assert content.count("Lang verhaal.") < 80  # a short biography, not the whole text
    context = response.context
    assert (len(context["list"].confirmed), len(context["list"].waiting)) == (2, 1)
    assert "2 / 2" in content  # registered of the seats
    # Only Jos asked something; his question, with his name.
    assert [(row.name, row.question) for row in context["list"].questions] == [
        ("Jos van der Lans", "Hoe doen jullie dat?")
    ]
    assert "Hoe doen jullie dat?" in content


def test_cue_card_is_linked_from_my_sessions_and_the_sign_in_sheet(client, setup):
    client.force_login(setup["users"]["moderator"])
    cue_card = _urls(setup)["cue_card"]

    my_sessions = client.get(reverse("registrations:my_sessions")).content.decode()
    sheet = client.get(_urls(setup)["offering_list"]).content.decode()

    assert f'href="{cue_card}"' in my_sessions
    assert f'href="{cue_card}"' in sheet


@pytest.mark.parametrize("people", [1, 6])
def test_cue_card_queries_do_not_grow_with_the_list(
    client, setup, people, django_assert_max_num_queries
):
    offering = setup["offering"]
    offering.capacity = None
    offering.save()
    for number in range(people):
        services.register_attendee(
            setup["event"],
            person=services.Person(
                name=f"Extra {number}", email=f"x{number}@example.nl", role="resident",
                question="Een vraag",
            ),
            offering_ids=[offering.pk],
        )  # fmt: skip
    client.force_login(setup["users"]["moderator"])

    with django_assert_max_num_queries(8):
        response = client.get(_urls(setup)["cue_card"])

    assert len(response.context["list"].questions) == people + 1


def _export_rows(response):
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def test_export_with_chosen_columns_is_remembered_for_the_user(client, setup):
    moderator = setup["users"]["moderator"]
    client.force_login(moderator)
    urls = _urls(setup)

    posted = client.post(urls["offering_csv"], {"name": "on", "question": "on"})
    later = client.get(urls["offering_csv"])
    later_xlsx = client.get(urls["offering_xlsx"])

    assert _export_rows(posted)[0] == ["Nr.", "Naam", "Status", "Vraag voor de sessieleider"]
    assert _export_rows(later) == _export_rows(posted)
    assert _export_rows(later)[1:] == [
        ["1", "Anna de Boer", "bevestigd", ""],
        ["2", "Jos van der Lans", "bevestigd", "Hoe doen jullie dat?"],
        ["1", "Piet Aarts", "wachtlijst", ""],
    ]
    sheet = load_workbook(io.BytesIO(later_xlsx.content)).active
    assert [cell.value for cell in sheet[4]] == [
        "Nr.",
        "Naam",
        "Status",
        "Vraag voor de sessieleider",
    ]
    assert ExportColumns.objects.get(user=moderator).columns == ["name", "question"]
    page = client.get(urls["offering_list"])
    assert {name: field.initial for name, field in page.context["export_form"].fields.items()} == {
        "name": None, "organisation": None, "function": None, "role": None,
        "question": None, "present": None,
    }  # fmt: skip
    assert page.context["export_form"].initial == {
        "name": True, "organisation": False, "function": False, "role": False,
        "question": True, "present": False,
    }  # fmt: skip


def test_export_columns_of_one_user_do_not_change_another_users_export(client, setup):
    client.force_login(setup["users"]["moderator"])
    client.post(_urls(setup)["offering_csv"], {"name": "on"})
    client.force_login(setup["users"]["organiser"])

    response = client.get(_urls(setup)["offering_csv"])

    assert _export_rows(response)[0] == [
        "Nr.", "Naam", "Organisatie", "Functie", "Doet mee als", "Status", "Aanwezig",
        "Vraag voor de sessieleider",
    ]  # fmt: skip


def test_export_without_any_column_shows_a_dutch_message_and_saves_nothing(client, setup):
    client.force_login(setup["users"]["moderator"])

    response = client.post(_urls(setup)["offering_xlsx"], {})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    content = response.content.decode()
    assert "Kies ten minste één kolom." in content
    assert 'id="error-summary"' in content
    assert not ExportColumns.objects.exists()


def test_export_columns_are_refused_to_other_moderators(client, setup):
    client.force_login(setup["users"]["other_moderator"])

    response = client.post(_urls(setup)["offering_csv"], {"name": "on"})

    assert response.status_code == 403
    assert not ExportColumns.objects.exists()


def test_chosen_columns_keep_formulas_and_control_characters_harmless(client, setup):
    jos = setup["registrations"][0]
    Registration.objects.filter(pk=jos.pk).update(
        name='=HYPERLINK("http://x","klik")', question="@SUM(1)\x0bverder\x07"
    )
    client.force_login(setup["users"]["organiser"])
    client.post(_urls(setup)["offering_csv"], {"name": "on", "question": "on"})

    rows = _export_rows(client.get(_urls(setup)["offering_csv"]))
    sheet = load_workbook(io.BytesIO(client.get(_urls(setup)["offering_xlsx"]).content)).active

    [row] = [row for row in rows if "HYPERLINK" in row[1]]
    assert row[1] == '\'=HYPERLINK("http://x","klik")'
    assert row[3] == "'@SUM(1)\nverder"
    [cells] = [cells for cells in sheet.iter_rows(min_row=5) if "HYPERLINK" in cells[1].value]
    assert (cells[1].data_type, cells[1].quotePrefix) == ("s", True)
    assert (cells[3].value, cells[3].quotePrefix) == ("@SUM(1)\nverder", True)


@pytest.mark.parametrize("people", [1, 8])
def test_list_and_checkin_pages_keep_their_query_count(
    client, setup, people, django_assert_max_num_queries
):
    offering = setup["offering"]
    offering.capacity = None
    offering.save()
    for number in range(people):
        services.register_attendee(
            setup["event"],
            person=services.Person(name=f"Extra {number}", email=f"x{number}@example.nl",
                                   role="resident"),
            offering_ids=[offering.pk],
        )  # fmt: skip
    client.force_login(setup["users"]["moderator"])
    urls = _urls(setup)

    # Session, login, offering, its leaders, the list, the remembered columns: not per person.
    with django_assert_max_num_queries(9):
        sheet = client.get(urls["offering_list"])
    with django_assert_max_num_queries(8):
        checkin = client.get(urls["offering_checkin"])

    assert len(sheet.context["list"].confirmed) == people + 2
    assert len(checkin.context["rows"]) == people + 2


@pytest.mark.parametrize("present", [False, True])
@pytest.mark.parametrize("focused", [False, True])
def test_checkin_row_renderer_writes_what_crispy_writes_per_row(present, focused):
    from crispy_forms.utils import render_crispy_form

    from registrations.attendees import Row
    from registrations.forms import CheckinToggleForm

    row = Row(
        pk=42, name='<b>Anne O\'Neil & "Co"</b>', organisation="", function="", role="",
        question="", present=present, status="confirmed",
    )  # fmt: skip
    options = {"action": "/lijsten/sessie/1/aanwezig/", "next_url": "/lijsten/?q=a&b=<c>"}
    form = CheckinToggleForm.for_row(row, autofocus=focused, **options)
    expected = render_crispy_form(form, helper=form.helper, context={"csrf_token": "token"})

    render = CheckinToggleForm.row_renderer(
        csrf_token="token", focused_pk=42 if focused else None, **options
    )

    assert render(row) == expected
    assert "<b>" not in render(row)
