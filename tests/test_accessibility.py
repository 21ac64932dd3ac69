"""Accessibility, keyboard and print checks in headless Chromium.

Runs axe-core (through axe-playwright-python) against every kind of public page, with the
five seed programmes loaded, in Dutch and (after a real click on the language button in the
header) in English. All tests share pytest-django's session-wide live server.
"""

import json
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from playwright.sync_api import expect

from events.models import Session
from events.services import copy_as_draft
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
SEED_FILES = [
    "zaanstad-2016.json",
    "jaarprogramma-2020.json",
    "dag-van-de-buurt-2021.json",
    "lpb-congres.json",
    "estafette-2018.json",
]

DVDB = "dag-van-de-buurt-2021"
DVDB_URL = f"/evenementen/{DVDB}/"
DVDB_SESSION = "abcd-in-de-wijkaanpak"
SESSION_URL = f"/evenementen/{DVDB}/sessies/{DVDB_SESSION}/"
SPEAKER_URL = "/sprekers/jos-van-der-lans/"  # has a biography
NOT_FOUND_URL = "/evenementen/bestaat-niet/"

AXE = Axe()


def _seed_objects(model):
    objects = []
    for name in SEED_FILES:
        objects += [o for o in json.loads((FIXTURES_DIR / name).read_text()) if o["model"] == model]
    return objects


def _published_slugs(model):
    slugs = {o["fields"]["slug"] for o in _seed_objects(model) if o["fields"].get("is_published")}
    return sorted(slugs)


SERIES_SLUGS = _published_slugs("events.series")
EVENT_SLUGS = _published_slugs("events.event")

PAGES_NL = (
    [pytest.param("/", id="home")]
    + [pytest.param(f"/reeksen/{slug}/", id=f"series-{slug}") for slug in SERIES_SLUGS]
    + [pytest.param(f"/evenementen/{slug}/", id=f"event-{slug}") for slug in EVENT_SLUGS]
    + [
        pytest.param(SESSION_URL, id="session"),
        pytest.param(SPEAKER_URL, id="speaker"),
        pytest.param(NOT_FOUND_URL, id="404"),
    ]
)
PAGES_EN = [
    pytest.param("/", id="home"),
    pytest.param(DVDB_URL, id="event-dag-van-de-buurt"),
    pytest.param(SESSION_URL, id="session"),
    pytest.param(SPEAKER_URL, id="speaker"),
    pytest.param(NOT_FOUND_URL, id="404"),
]


@pytest.fixture
def browser_context_args(browser_context_args):
    """A Dutch visitor: the site follows Accept-Language until a language is picked."""
    return {**browser_context_args, "locale": "nl-NL"}


def test_seed_fixtures_list_the_expected_pages():
    """Guards the parametrisation above: three series and every seed event are covered."""
    assert len(SERIES_SLUGS) == 3
    assert DVDB in EVENT_SLUGS
    assert "zaanstad-werken-in-de-wijk-2016" in EVENT_SLUGS


@pytest.fixture
def site(live_server, transactional_db):
    """The live server's base URL, with the seed programmes in its database."""
    call_command("loaddata", *(str(FIXTURES_DIR / name) for name in SEED_FILES), verbosity=0)
    return live_server.url


def open_page(page, url, expected_status=200):
    response = page.goto(url)
    assert response is not None
    assert response.status == expected_status, f"{url} answered {response.status}"
    return response


def format_violations(violations):
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"]:
            lines.append(f"    at {node['target']}: {node.get('failureSummary', '')!r}")
    return "\n".join(lines)


def assert_accessible(page):
    violations = AXE.run(page).response["violations"]
    assert not violations, f"axe violations on {page.url}:\n{format_violations(violations)}"


def assert_one_h1(page):
    assert page.locator("h1").count() == 1, f"{page.url} must have exactly one h1"


def switch_to_english(page):
    """Click the header's language button, as a visitor would."""
    button = page.locator(".site-header .language-switch button[value='en']")
    with page.expect_navigation():
        button.click()
    assert page.locator("html").get_attribute("lang") == "en"
    current = page.locator(".site-header .language-switch button[value='en']")
    assert current.get_attribute("aria-current") == "true"


def expected_status(path):
    return 404 if path == NOT_FOUND_URL else 200


@pytest.mark.parametrize("path", PAGES_NL)
def test_page_has_no_axe_violations_in_dutch(page, site, path):
    open_page(page, site + path, expected_status(path))
    assert page.locator("html").get_attribute("lang") == "nl"
    assert_one_h1(page)
    assert_accessible(page)


@pytest.mark.parametrize("path", PAGES_EN)
def test_page_has_no_axe_violations_in_english(page, site, path):
    open_page(page, site + path, expected_status(path))
    switch_to_english(page)
    assert page.url == site + path
    assert_one_h1(page)
    assert_accessible(page)


def test_dutch_content_is_marked_dutch_on_the_english_page(page, site):
    """WCAG 3.1.2 (language of parts), which axe cannot see: the programme texts stay Dutch
    when the interface is English, so screen readers must be told to read them as Dutch."""
    open_page(page, site + DVDB_URL)
    switch_to_english(page)
    nearest_lang = "el => el.closest('[lang]').getAttribute('lang')"
    dutch_parts = {
        "event title (h1)": page.locator("h1"),
        "event summary": page.locator(".page-header__lead"),
        "introduction": page.locator(".prose").first,
        "session title": page.locator(".session-card__title").first,
        "session summary": page.locator(".session-card > p:not([class])").first,
    }
    wrong = {
        name: lang
        for name, locator in dutch_parts.items()
        if (lang := locator.evaluate(nearest_lang)) != "nl"
    }
    assert not wrong, f"Dutch content read out in another language: {wrong}"
    ui_label = page.locator(".facts dt").first
    assert ui_label.evaluate(nearest_lang) == "en", "interface labels stay English"


@pytest.mark.parametrize("path", ["/", DVDB_URL, SPEAKER_URL])
def test_tab_first_focuses_skip_link_which_moves_focus_to_main(page, site, path):
    open_page(page, site + path)
    page.keyboard.press("Tab")
    skip_link = page.locator(".skip-link")
    assert skip_link.evaluate("el => el === document.activeElement")
    assert skip_link.get_attribute("href") == "#main"
    assert skip_link.is_visible()
    box = skip_link.bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link must be on screen"

    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement && document.activeElement.id") == "main"


def _description_only_phrase(session_slug):
    """A phrase of the session's full description that its summary does not contain."""
    session = Session.objects.get(slug=session_slug, event__slug=DVDB)
    for sentence in re.split(r"(?<=[.?!])\s+", session.description):
        words = sentence.split()
        if len(words) >= 6 and sentence not in session.summary:
            return " ".join(words[:6])
    raise AssertionError(f"{session_slug} has no description beyond its summary")


def test_read_more_opens_with_the_keyboard(page, site):
    phrase = _description_only_phrase(DVDB_SESSION)
    open_page(page, site + DVDB_URL)
    card = page.locator(".session-card").filter(has=page.locator(f"a[href='{SESSION_URL}']"))
    details = card.first.locator("details.session-card__more")
    summary = details.locator("summary")
    assert "Lees meer" in summary.inner_text()
    description = details.get_by_text(phrase)
    assert not description.is_visible()

    summary.focus()
    page.keyboard.press("Enter")

    assert details.get_attribute("open") is not None
    assert description.is_visible()


def test_print_hides_navigation_and_the_full_descriptions(page, site):
    """On paper the programme is the overview and the short texts (issue 20): the full
    descriptions are on the session pages."""
    phrase = _description_only_phrase(DVDB_SESSION)
    open_page(page, site + DVDB_URL)
    details = page.locator("details.session-card__more").filter(has_text=phrase).first
    summary = Session.objects.get(slug=DVDB_SESSION, event__slug=DVDB).summary
    assert page.locator(".site-header nav").is_visible()

    page.emulate_media(media="print")

    assert not page.locator(".site-header nav").is_visible()
    assert not page.locator(".language-switch").is_visible()
    assert not details.is_visible()
    assert page.get_by_text(summary).first.is_visible()


def _pdf_text(pdf_bytes, tmp_path):
    pdf = tmp_path / "page.pdf"
    pdf.write_bytes(pdf_bytes)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return " ".join(unicodedata.normalize("NFKC", text).split())


def test_pdf_contains_title_and_short_texts_on_few_pages(page, site, tmp_path):
    phrase = _description_only_phrase(DVDB_SESSION)
    open_page(page, site + DVDB_URL)
    title = page.locator("h1").inner_text()

    pdf_bytes = page.pdf(format="A4")

    assert pdf_bytes.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: the PDF's text was not checked")
    text = _pdf_text(pdf_bytes, tmp_path)
    assert title in text
    summary = Session.objects.get(slug=DVDB_SESSION, event__slug=DVDB).summary
    assert " ".join(summary.split()[:6]) in text
    assert phrase not in text
    assert "Lees meer" not in text
    # 16 pages when every description and biography was printed; the issue asks for 4.
    assert _pdf_pages(pdf_bytes, tmp_path) <= 4


def _pdf_pages(pdf_bytes, tmp_path):
    pdf = tmp_path / "pages.pdf"
    pdf.write_bytes(pdf_bytes)
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


@pytest.fixture
def staff_pages(site, page):
    """An organiser logged in, with an open copy of the Dag van de Buurt and registrations."""
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.utils import timezone

    from events.models import Event
    from registrations import services

    seed = Event.objects.get(slug="dag-van-de-buurt-2021")
    event = copy_as_draft(seed, start_date=timezone.localdate() + timedelta(days=10), slug="live")
    event.is_published = True
    event.registration_opens_at = timezone.now() - timedelta(days=1)
    event.registration_closes_at = timezone.now() + timedelta(days=5)
    event.save()
    offering = event.offerings.order_by("pk").first()
    for number in range(5):
        services.register_attendee(
            event,
            person=services.Person(name=f"Deelnemer {number}", email=f"d{number}@example.nl",
                                   role="resident", question="Een vraag" if number == 0 else ""),
            offering_ids=[offering.pk],
        )  # fmt: skip
    organiser = User.objects.create_superuser("organisator", "o@example.nl", "x")
    offering.moderators.add(organiser)
    log_in(page.context, site, organiser)
    return {
        "my_sessions": "/mijn-sessies/",
        "list": f"/lijsten/sessie/{offering.pk}/",
        "checkin": f"/lijsten/sessie/{offering.pk}/aanwezig/",
        "overview": f"/organisatie/evenement/{event.pk}/",
        "register": f"/evenementen/{event.slug}/aanmelden/",
    }


def test_moderator_pages_and_registration_form_have_no_axe_violations(page, site, staff_pages):
    for url in staff_pages.values():
        open_page(page, site + url)
        assert_accessible(page)
        assert_one_h1(page)


def test_registration_form_errors_have_no_axe_violations(page, site, staff_pages):
    open_page(page, site + staff_pages["register"])

    page.get_by_role("button", name="Aanmelden").click()

    assert page.locator("#error-summary").is_visible()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert_accessible(page)


def test_checkin_toggles_in_place_with_javascript(page, site, staff_pages):
    open_page(page, site + staff_pages["checkin"])
    button = page.locator("form.checkin-toggle button").first

    button.click()

    # A locator wait: the site's CSP forbids the eval a string predicate would need.
    expect(page.locator("[data-count=present]")).to_have_text("1")
    assert page.url == site + staff_pages["checkin"]  # no reload
    assert button.get_attribute("aria-pressed") == "true"


@pytest.fixture
def participant_pages(site, page):
    """A participant's pages on an open copy of the Dag van de Buurt: their personal page
    with a seat in one session and a waiting-list place in another, the page after the
    form (its cookie handed to the browser), and the session page with its link."""
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from events.models import Event
    from registrations import services
    from registrations.forms import NO_SESSION

    seed = Event.objects.get(slug=DVDB)
    event = copy_as_draft(seed, start_date=timezone.localdate() + timedelta(days=10), slug="live")
    event.is_published = True
    event.registration_opens_at = timezone.now() - timedelta(days=1)
    event.save()
    first_round, second_round = event.rounds.order_by("starts_at")[:2]
    full = first_round.offerings.order_by("pk").first()
    full.capacity = 1
    full.save()
    other = second_round.offerings.exclude(session=full.session).order_by("pk").first()
    for number in range(2):
        registration = services.register_attendee(
            event,
            person=services.Person(name=f"Deelnemer {number}", email=f"d{number}@example.nl",
                                   role="resident"),
            offering_ids=[full.pk, other.pk],
        ).registration  # fmt: skip
    data = {"name": "Anna", "email": "anna@example.nl", "role": "resident", "consent": "on"}
    data.update({f"round_{round_.pk}": NO_SESSION for round_ in event.rounds.all()})
    client = Client()
    response = client.post(f"/evenementen/{event.slug}/aanmelden/", data)
    done = response["Location"]
    page.context.add_cookies(
        [
            {
                "name": "registration_summary",
                "value": response.cookies["registration_summary"].value,
                "url": site + done,
            }
        ]
    )
    return {
        "manage": registration.get_absolute_url(),
        "done": done,
        "session": full.session.get_absolute_url(),
        "past form": f"/evenementen/{DVDB}/aanmelden/",
        "past series form": f"/reeksen/{SERIES_SLUGS[0]}/aanmelden/",
    }


def test_participant_pages_have_no_axe_violations(page, site, participant_pages):
    expected = {
        "manage": "wachtlijst, plaats 1",
        "done": "We hebben een bericht gestuurd naar anna@example.nl.",
        "session": "Aanmelden voor deze sessie",
        "past form": "Afgelopen",
        "past series form": "Afgelopen",
    }
    for name, text in expected.items():
        open_page(page, site + participant_pages[name])
        assert text.lower() in page.inner_text("main").lower(), name  # some in capitals by CSS
        assert_accessible(page)
        assert_one_h1(page)
