"""The organiser pages of the event admin in headless Chromium: axe, and no sideways scroll.

Imports and copy, with the seed programmes loaded, as an organiser goes through them:
the empty page, the preview, the messages on bad input, and the summary.
"""

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from events.models import Event
from tests.browser import log_in
from tests.test_accessibility import assert_accessible, assert_one_h1, open_page, site  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZAANSTAD_LINES = "Programma\n14:00 – 14:30 ontvangst\n15:00 – 15:45 ronde 1 tafelsessies\n"
BAD_SHEET = (
    "titel;sessieleiders;rondes;plaatsen\n"
    "Buurtbudgetten;Suzanne van Eerden (Gemeente Breda);Ronde 9;twaalf\n"
    ";;Ronde 1 tafelsessies;\n"
)
GOOD_SHEET = "titel;sessieleiders;rondes;plaatsen\nNieuwe tafel;Anna (Wijkteam);1; 12\n"


@pytest.fixture
def organiser(site, page):  # noqa: F811
    """A logged-in organiser and the Zaanstad event's admin pages."""
    organiser = User.objects.create_superuser("organisator", "o@example.nl", "x")
    log_in(page.context, site, organiser)
    event = Event.objects.get(slug="zaanstad-werken-in-de-wijk-2016")
    base = f"{site}/admin/events/event/{event.pk}"
    return {
        "change": f"{base}/change/",
        "programme": f"{base}/programma-importeren/",
        "sessions": f"{base}/sessies-importeren/",
        "copy": f"{base}/kopieren/",
    }


# Measured after the layout has settled at the new width (two animation frames).
SIDEWAYS_OVERFLOW = """() => new Promise(resolve => requestAnimationFrame(
  () => requestAnimationFrame(() => resolve(
    document.documentElement.scrollWidth - document.documentElement.clientWidth))))"""


WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"""


def check(page):
    assert_accessible(page)
    assert_one_h1(page)
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(SIDEWAYS_OVERFLOW)
        assert overflow <= 0, f"{page.url} scrolls sideways at {width} px: " + str(
            page.evaluate(WIDER_THAN_THE_SCREEN)
        )
    page.set_viewport_size({"width": 1366, "height": 900})


def test_programme_text_import_pages_are_accessible(page, organiser):
    open_page(page, organiser["change"])
    page.get_by_role("link", name="Programma uit tekst").click()
    check(page)

    page.get_by_label("Programma als tekst").fill(ZAANSTAD_LINES)
    page.get_by_role("button", name="Laat zien wat het wordt").click()
    expect(page.get_by_text("Geen tijd aan het begin van de regel: overgeslagen.")).to_be_visible()
    check(page)

    page.get_by_role("button", name="Toevoegen aan het programma").click()
    expect(page.get_by_text("al een ronde met deze titel")).to_be_visible()
    check(page)


def test_session_sheet_import_pages_are_accessible(page, organiser):
    open_page(page, organiser["sessions"])
    check(page)

    page.get_by_label("Spreadsheet (.xlsx of .csv)").set_input_files(
        files=[{"name": "sessies.csv", "mimeType": "text/csv", "buffer": BAD_SHEET.encode()}]
    )
    page.get_by_role("button", name="Spreadsheet controleren").click()
    expect(page.get_by_text("Onbekende ronde “Ronde 9”")).to_be_visible()
    check(page)

    page.get_by_label("Spreadsheet (.xlsx of .csv)").set_input_files(
        files=[{"name": "sessies.csv", "mimeType": "text/csv", "buffer": GOOD_SHEET.encode()}]
    )
    page.get_by_role("button", name="Spreadsheet controleren").click()
    check(page)
    page.get_by_role("button", name="Deze sessies importeren").click()
    expect(page.get_by_text("1 sessie geïmporteerd.")).to_be_visible()


def test_copy_pages_are_accessible(page, organiser):
    open_page(page, organiser["copy"])
    check(page)

    page.locator("#id_registration_closes_at_0").fill("31-12-2099")
    page.get_by_role("button", name="Kopie maken").click()
    expect(page.get_by_text("Aanmelden zou sluiten nadat het evenement begint")).to_be_visible()
    check(page)

    page.locator("#id_registration_closes_at_0").fill("28-10-2017")
    page.get_by_role("button", name="Kopie maken").click()
    expect(page.get_by_role("heading", name="Controleer vóór je publiceert")).to_be_visible()
    check(page)


def fits_the_screen(page, name):
    """No sideways scroll at 390 and 1,366 px (screenshots in /tmp for a look)."""
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(SIDEWAYS_OVERFLOW)
        page.screenshot(path=f"/tmp/organiser-{name}-{width}.png", full_page=True)
        assert overflow <= 0, f"{page.url} scrolls sideways at {width} px: " + str(
            page.evaluate(WIDER_THAN_THE_SCREEN)
        )
    page.set_viewport_size({"width": 1366, "height": 900})


@pytest.mark.parametrize("slug", ["dag-van-de-buurt-2021", "zaanstad-werken-in-de-wijk-2016"])
def test_event_change_page_fits_the_screen(page, organiser, site, slug):  # noqa: F811
    event = Event.objects.get(slug=slug)
    open_page(page, f"{site}/admin/events/event/{event.pk}/change/")
    fits_the_screen(page, f"event-{slug}")


# Each object tool against the page's title and the object's name under it.
TITLE_AND_TOOLS = """() => {
  const box = e => e.getBoundingClientRect();
  const titles = [...document.querySelectorAll('#content > h1, #content > h2')].map(box);
  return [...document.querySelectorAll('.object-tools li')].map(item => {
    const tool = box(item);
    return {
      name: item.textContent.trim(),
      overlaps: titles.some(title => tool.left < title.right && title.left < tool.right
        && tool.top < title.bottom && title.top < tool.bottom),
    };
  });
}"""


@pytest.mark.parametrize("slug", ["dag-van-de-buurt-2021", "zaanstad-werken-in-de-wijk-2016"])
def test_event_title_and_object_tools_do_not_overlap(page, organiser, site, slug):  # noqa: F811
    event = Event.objects.get(slug=slug)
    open_page(page, f"{site}/admin/events/event/{event.pk}/change/")
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate(SIDEWAYS_OVERFLOW)  # the layout settled at this width
        tools = page.evaluate(TITLE_AND_TOOLS)
        assert len(tools) >= 5, tools
        assert not [tool for tool in tools if tool["overlaps"]], (width, tools)
    page.set_viewport_size({"width": 1366, "height": 900})


def test_import_and_copy_pages_fit_the_screen(page, organiser):
    for name in ["programme", "sessions", "copy"]:
        open_page(page, organiser[name])
        fits_the_screen(page, name)
