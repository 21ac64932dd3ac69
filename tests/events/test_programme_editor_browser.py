"""The Zaanstad seed programme built in a browser, through the programme editor and through
the two imports, ends as the same public programme as the fixture's.

The fixture is loaded first and its public programme read (times, headings, session titles
and leaders per round); then its programme, speakers and organisations are deleted, leaving
only the event itself (and its organisers), and an organiser builds the programme again.
"""

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import expect

from events.models import Event, Round
from speakers.models import Organisation, Speaker
from tests.browser import log_in
from tests.events.test_organiser_pages_browser import check
from tests.events.test_session_import import XLSX, ZAANSTAD_ROWS, xlsx_file
from tests.test_accessibility import open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "zaanstad-2016.json"
SLUG = "zaanstad-werken-in-de-wijk-2016"

PROGRAMME = """() => [...document.querySelectorAll('.timeline__item')].map(item => ({
  time: item.querySelector('.timeline__time').textContent.trim(),
  heading: item.querySelector('.timeline__title').textContent.trim(),
  sessions: [...item.querySelectorAll('.session-card')].map(card => ({
    title: card.querySelector('.session-card__title').textContent.trim(),
    leaders: [...card.querySelectorAll('.session-card__people li')]
      .map(li => li.textContent.replace(/\\s+/g, ' ').trim()),
  })),
}))"""

PROGRAMME_TEXT = """\
Programma
14:00 – 14:30 Ontvangst
14:30 – 15:00 Welkom met plenair interview
15:00 – 15:45 Ronde 1 tafelsessies
16:00 – 16:45 Ronde 2 tafelsessies
16:45 – 18:00 Gezamenlijke afsluiting en borrel
"""


def fixture_objects(*models):
    """The fixture's objects of `models`, as JSON."""
    return [o for o in json.loads(FIXTURE.read_text()) if o["model"] in models]


@pytest.fixture
def zaanstad(live_server, transactional_db, page):
    """The fixture's public programme, then the event alone; a logged-in organiser."""
    call_command("loaddata", str(FIXTURE), verbosity=0)
    open_page(page, f"{live_server.url}/evenementen/{SLUG}/")
    expected = page.evaluate(PROGRAMME)
    assert len(expected) == 5 and sum(len(item["sessions"]) for item in expected) == 14

    event = Event.objects.get(slug=SLUG)
    for related in [event.roles, event.programme_blocks, event.rounds, event.sessions]:
        related.all().delete()
    Speaker.objects.all().delete()
    Organisation.objects.exclude(pk__in=event.organisers.values("pk")).delete()
    assert not event.sessions.exists() and not event.rounds.exists()

    log_in(
        page.context,
        live_server.url,
        User.objects.create_superuser("organisator", "o@example.nl", "x"),
    )
    return {"site": live_server.url, "event": event, "expected": expected}


def sessions_in_fixture():
    """[(title, summary, [(leader, organisation), ...]), ...] in the order of round 1."""
    objects = fixture_objects(
        "events.session", "events.sessionrole", "speakers.speaker", "speakers.organisation"
    )
    by = {(o["model"], o["pk"]): o["fields"] for o in objects}
    sessions = []
    for obj in objects:
        if obj["model"] != "events.session":
            continue
        roles = sorted(
            (o["fields"] for o in objects if o["model"] == "events.sessionrole"),
            key=lambda role: role["order"],
        )
        leaders = []
        for role in roles:
            if role["session"] == obj["pk"]:
                speaker = by[("speakers.speaker", role["speaker"])]
                organisation = by.get(("speakers.organisation", speaker["organisation"]), {})
                leaders.append((speaker["name"], organisation.get("name", "")))
        sessions.append((obj["fields"]["title"], obj["fields"]["summary"], leaders))
    return sessions


class Counter:
    """Page loads and form submissions an organiser makes (for the docs' count)."""

    def __init__(self, page):
        self.page, self.loads, self.submissions = page, 0, 0

    def open(self, url):
        open_page(self.page, url)
        self.loads += 1

    def submit(self, button):
        with self.page.expect_navigation():
            button.click()
        self.submissions += 1
        self.loads += 1  # the editor again, at the changed item


def add_item(page, counter, summary, prefix, **fields):
    page.locator(".editor-add summary", has_text=summary).click()
    for name, value in fields.items():
        field = page.locator(f"#id_{prefix}-{name}")
        if name == "kind":
            field.select_option(value)
        else:
            field.fill(value)
    counter.submit(page.locator(f"#id_{prefix}-title").locator("xpath=ancestor::form//button"))


def screenshots(page, name):
    """The editor at 390 and 1,366 px, in /tmp for a look."""
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"/tmp/programme-editor-{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def test_zaanstad_programme_built_in_the_editor_matches_the_fixture(page, zaanstad):
    site, event = zaanstad["site"], zaanstad["event"]
    counter = Counter(page)
    counter.open(f"{site}/admin/events/event/{event.pk}/change/")
    # The hint at the top of the event's form leads there.
    page.locator(".programme-editor-hint").get_by_role("link", name="programma-editor").click()
    counter.loads += 1
    expect(page.get_by_role("heading", name="Nog geen rondes")).to_be_visible()
    check(page)

    for start, end, kind, title in [
        ("14:00", "14:30", "reception", "Ontvangst"),
        ("14:30", "15:00", "plenary", "Welkom met plenair interview"),
        ("16:45", "18:00", "closing", "Gezamenlijke afsluiting en borrel"),
    ]:
        add_item(
            page,
            counter,
            "Een blok toevoegen",
            "new-block",
            starts_at=start,
            ends_at=end,
            kind=kind,
            title=title,
        )
    for start, end, title in [
        ("15:00", "15:45", "Ronde 1 tafelsessies"),
        ("16:00", "16:45", "Ronde 2 tafelsessies"),
    ]:
        add_item(
            page,
            counter,
            "Een ronde toevoegen",
            "new-round",
            starts_at=start,
            ends_at=end,
            title=title,
        )
    first, second = Round.objects.filter(event=event).order_by("starts_at")

    sessions = sessions_in_fixture()
    for number, (title, summary, leaders) in enumerate(sessions, start=1):
        prefix = f"new-session-{first.pk}"
        page.locator(f"#round-{first.pk} summary", has_text="Nieuwe sessie in").click()
        page.locator(f"#id_{prefix}-title").fill(title)
        page.locator(f"#id_{prefix}-summary").fill(summary)
        page.locator(f"#id_{prefix}-capacity").fill("12")
        page.locator(f"#id_{prefix}-location").fill(f"Tafel {number}")
        counter.submit(page.locator(f"#id_{prefix}-title").locator("xpath=ancestor::form//button"))
        session = event.sessions.get(title=title)
        # The new session's card comes back open, at its place, for its leaders.
        assert page.url.endswith(f"?bewerk={session.pk}#session-{session.pk}")
        card = page.locator(f"#session-{session.pk}").locator("xpath=ancestor::li[1]")
        for name, organisation in leaders:
            # Typing a name asks the editor's search for suggestions; that answer comes
            # before the form is sent, as with a person typing. (The test server shares
            # one SQLite connection between its threads: two requests at once can hang.)
            with page.expect_response(lambda response: "wie=" in response.url):
                page.locator(f"#id_person-{session.pk}-name").fill(name)
            page.locator(f"#id_person-{session.pk}-organisation").fill(organisation)
            counter.submit(card.get_by_role("button", name="Persoon toevoegen"))

    for title, _summary, _leaders in sessions:
        session = event.sessions.get(title=title)
        page.locator(f"#id_offer-{second.pk}-session").select_option(str(session.pk))
        counter.submit(page.get_by_role("button", name="Ook in Ronde 2 tafelsessies"))

    check(page)
    screenshots(page, "closed")
    print(f"\nDag: {counter.loads} page loads, {counter.submissions} submissions")

    # A closed card opens with "Bewerken" (a link: no script needed) and closes again.
    session = event.sessions.get(title=sessions[0][0])
    offering = session.offerings.get(round=second)
    card = page.locator(f"#offering-{offering.pk}")
    assert card.locator("input:not([type=hidden]), select, textarea").count() == 0
    with page.expect_navigation():
        card.get_by_role("link", name="Bewerken").click()
    assert page.url.endswith(f"?bewerk={session.pk}#offering-{offering.pk}")
    expect(page.locator(f"#id_offering-{offering.pk}-capacity")).to_be_visible()
    assert page.locator(".editor-card--editing").count() == 2  # the session in both rounds
    check(page)
    screenshots(page, "open")
    page.locator(f"#id_offering-{offering.pk}-capacity").fill("10")
    with page.expect_navigation():
        card.get_by_role("button", name="Opslaan").first.click()
    expect(page.locator(f"#id_offering-{offering.pk}-capacity")).to_have_value("10")
    with page.expect_navigation():
        card.get_by_role("link", name="Sluiten").click()
    assert page.locator(".editor-card--editing").count() == 0
    offering.refresh_from_db()
    offering.capacity = 12
    offering.save()

    open_page(page, f"{site}/evenementen/{SLUG}/")
    assert page.evaluate(PROGRAMME) == zaanstad["expected"]


def test_zaanstad_programme_imported_as_text_and_sheet_matches_the_fixture(page, zaanstad):
    site, event = zaanstad["site"], zaanstad["event"]
    open_page(page, f"{site}/admin/events/event/{event.pk}/programma/")
    page.get_by_role("link", name="Programma uit tekst").first.click()
    page.get_by_label("Programma als tekst").fill(PROGRAMME_TEXT)
    page.get_by_role("button", name="Laat zien wat het wordt").click()
    page.get_by_role("button", name="Toevoegen aan het programma").click()

    open_page(page, f"{site}/admin/events/event/{event.pk}/sessies-importeren/")
    rows = [
        (row[0], summary, row[2], row[4], row[5], row[6])
        for row, (_title, summary, _leaders) in zip(
            ZAANSTAD_ROWS, sessions_in_fixture(), strict=True
        )
    ]
    headings = ["titel", "korte tekst", "sessieleiders", "rondes", "plaatsen", "tafel of zaal"]
    sheet = xlsx_file(rows, headings)
    page.get_by_label("Spreadsheet (.xlsx of .csv)").set_input_files(
        files=[{"name": "sessies.xlsx", "mimeType": XLSX, "buffer": sheet.read()}]
    )
    page.get_by_role("button", name="Spreadsheet controleren").click()
    page.get_by_role("button", name="Deze sessies importeren").click()
    expect(page.get_by_text("7 sessies geïmporteerd.")).to_be_visible()

    open_page(page, f"{site}/admin/events/event/{event.pk}/programma/")
    check(page)
    open_page(page, f"{site}/evenementen/{SLUG}/")
    assert page.evaluate(PROGRAMME) == zaanstad["expected"]
