"""The moderators' pages in Chromium on a phone and a desktop: reflow, axe, and where the
keyboard focus goes after "Aanwezig melden", with and without JavaScript."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from registrations import services
from registrations.models import SessionChoice
from tests.browser import log_in
from tests.factories import single_offering

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def moderated_offering(moderator):
    """A session with twelve participants, long organisation names and a question."""
    offering = single_offering(12)
    offering.location = "Tafel 3"
    offering.save()
    for number in range(12):
        services.register_attendee(
            offering.event,
            person=services.Person(
                name=f"Deelnemer{number} Achternaamsvoorvoegselachtig",
                email=f"d{number}@example.nl",
                role="resident",
                organisation="Stichting Bewonersondersteuningsorganisatie Zaandam-Oost",
                function="beleidsmedewerker leefbaarheid",
                question="Hoe betrekken jullie jongeren?" if number == 0 else "",
            ),
            offering_ids=[offering.pk],
        )
    services.register_attendee(
        offering.event,
        person=services.Person(name="Wachtende Persoon", email="w@example.nl", role="resident"),
        offering_ids=[offering.pk],
    )
    offering.moderators.add(moderator)
    return offering


def _pages(offering):
    return {
        "sign-in sheet": reverse("registrations:offering_attendees", args=[offering.pk]),
        "check-in": reverse("registrations:offering_checkin", args=[offering.pk]),
        "cue card": reverse("registrations:offering_cue_card", args=[offering.pk]),
        "my sessions": reverse("registrations:my_sessions"),
    }


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1366px"])
def test_moderator_pages_reflow_and_have_no_axe_violations(
    live_server, page, moderator, moderated_offering, viewport
):
    log_in(page.context, live_server.url, moderator)
    page.set_viewport_size(viewport)

    for name, url in _pages(moderated_offering).items():
        response = page.goto(live_server.url + url)

        assert response.status == 200, name
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= viewport["width"], f"{name} is {scroll_width}px wide"
        violations = AXE.run(page).response["violations"]
        assert violations == [], f"{name}: {[v['id'] for v in violations]}"


def _focused_row(page):
    return page.evaluate(
        "(() => { const row = document.activeElement.closest('li');"
        " return [document.activeElement.tagName, row ? row.id : null]; })()"
    )


def test_checkin_keeps_the_focus_on_the_row_with_javascript(
    live_server, page, moderator, moderated_offering
):
    log_in(page.context, live_server.url, moderator)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + _pages(moderated_offering)["check-in"])
    row = page.locator(".checkin-row").nth(2)
    row_id = row.get_attribute("id")
    name = row.get_attribute("data-name")
    row.locator("button").focus()

    page.keyboard.press("Enter")

    expect(page.locator("#checkin-status")).to_have_text(f"{name} is aanwezig gemeld.")
    assert _focused_row(page) == ["BUTTON", row_id]
    assert row.locator("button").get_attribute("aria-pressed") == "true"
    assert page.url.endswith(_pages(moderated_offering)["check-in"])  # no reload
    choice = SessionChoice.objects.get(pk=int(row_id.removeprefix("row-")))
    assert choice.checked_in_at is not None

    page.keyboard.press("Enter")  # and back, still from the same button

    expect(page.locator("#checkin-status")).to_have_text(f"{name} is niet meer aanwezig gemeld.")
    assert _focused_row(page) == ["BUTTON", row_id]


def test_checkin_keeps_the_focus_on_the_row_without_javascript(
    live_server, browser, moderator, moderated_offering
):
    context = browser.new_context(java_script_enabled=False, locale="nl-NL", viewport=PHONE)
    log_in(context, live_server.url, moderator)
    page = context.new_page()
    page.goto(live_server.url + _pages(moderated_offering)["check-in"])
    row = page.locator(".checkin-row").nth(5)
    row_id = row.get_attribute("id")
    name = row.get_attribute("data-name")
    row.locator("button").focus()

    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.url.endswith(f"?gemeld={row_id.removeprefix('row-')}")
    assert _focused_row(page) == ["BUTTON", row_id]
    assert page.locator("#checkin-status").inner_text() == f"{name} is aanwezig gemeld."
    assert page.locator(f"#{row_id} button").get_attribute("aria-pressed") == "true"
    context.close()
