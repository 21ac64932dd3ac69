"""The event page and the registration form of the demo Dag van de Buurt in Chromium (issue
20): the overview side by side on a wide screen, the filter at once with JavaScript, the
registration bar on a phone, the form's choices by keyboard, no sideways scrolling at
390 px, and the printed programme on at most four A4 pages."""

import io
import re
import subprocess

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.test_accessibility import DVDB_URL, assert_accessible, open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_URL = "/evenementen/demo-dag-van-de-buurt/"
FORM_URL = "/evenementen/demo-dag-van-de-buurt/aanmelden/"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def demo(live_server, transactional_db):
    """The seeds and their demo copies (an upcoming Dag van de Buurt, registration open)."""
    call_command("load_demo", verbosity=0, stdout=io.StringIO())
    return live_server.url


def scroll_width(page):
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("url", [DEMO_URL, FORM_URL, DVDB_URL], ids=["event", "form", "past"])
def test_no_sideways_scrolling_at_390_px(page, demo, url):
    page.set_viewport_size(PHONE)
    open_page(page, demo + url)
    for more in page.locator("details").all()[:3]:
        more.locator("summary").click()  # opened texts may not widen the page either
    assert scroll_width(page) <= PHONE["width"]


def test_event_page_and_form_have_no_axe_violations(page, demo):
    for url in [DEMO_URL, FORM_URL]:
        open_page(page, demo + url)
        assert_accessible(page)


def test_overview_rounds_stand_side_by_side_on_a_wide_screen_only(page, demo):
    page.set_viewport_size(DESKTOP)
    open_page(page, demo + DEMO_URL)
    first, second = page.locator(".overview__round").all()[:2]
    a, b = first.bounding_box(), second.bounding_box()
    assert a["y"] == b["y"] and b["x"] > a["x"] + a["width"] - 1

    page.set_viewport_size(PHONE)
    a, b = first.bounding_box(), second.bounding_box()
    assert b["y"] >= a["y"] + a["height"]


def test_a_jump_link_brings_its_round_into_view(page, demo):
    page.set_viewport_size(PHONE)
    open_page(page, demo + DEMO_URL)
    jump = page.locator(".overview__jumps a").nth(1)
    target = jump.get_attribute("href")

    jump.click()

    section = page.locator(target)
    expect(section).to_be_in_viewport()
    assert page.url.endswith(target)


def test_the_filter_hides_other_sessions_at_once_with_javascript(page, demo):
    open_page(page, demo + DEMO_URL)
    page.evaluate("window.notReloaded = true")
    items = page.locator(".overview__item")
    total = items.count()
    round_tables = page.locator(".overview__item[data-kind=round_table]").count()
    assert 1 < round_tables < total

    page.select_option("#id_kind", "round_table")

    status = page.locator(".programme-filter__result")
    expect(status).to_have_text(f"{round_tables} sessies getoond")
    visible = page.locator(".overview__item:visible")
    assert visible.count() == round_tables
    assert {item.get_attribute("data-kind") for item in visible.all()} == {"round_table"}
    assert page.locator(".session-grid > li:visible").count() == round_tables
    assert page.evaluate("window.notReloaded === true"), "filtered without a new page"
    assert page.url.endswith("?kind=round_table")

    page.select_option("#id_kind", "")

    expect(page.locator(".overview__item:visible")).to_have_count(total)
    expect(page.locator(".programme-filter__result")).to_have_text("")


def test_the_filter_asks_the_server_on_a_page_it_filtered(page, demo):
    open_page(page, demo + DEMO_URL + "?kind=workshop")
    with page.expect_navigation():
        page.select_option("#id_kind", "")
    assert page.locator(".overview__item").count() > 2


def test_the_registration_bar_stays_in_reach_on_a_phone_and_covers_nothing_at_the_end(page, demo):
    page.set_viewport_size(PHONE)
    open_page(page, demo + DEMO_URL)
    bar = page.locator(".register-bar")
    expect(page.locator(".panel--registration .button--large")).to_be_in_viewport()
    expect(bar).to_be_hidden()  # the box's own button is in sight: nothing covered

    page.locator(".timeline__item--round").first.scroll_into_view_if_needed()
    expect(bar).to_be_visible()
    box = bar.bounding_box()
    assert box["y"] + box["height"] == pytest.approx(PHONE["height"], abs=1)
    assert bar.get_by_role("link", name="Aanmelden").is_visible()

    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    last = page.locator(".layout__main > section").last.bounding_box()
    box = bar.bounding_box()
    assert box["y"] >= last["y"] + last["height"], "the bar sits below the programme"

    page.set_viewport_size(DESKTOP)
    assert not bar.is_visible(), "on a wide screen the registration box stays in view"


def test_a_past_event_has_no_registration_bar(page, demo):
    page.set_viewport_size(PHONE)
    open_page(page, demo + DVDB_URL)
    assert page.locator(".register-bar").count() == 0


def test_form_choice_is_described_and_its_full_text_opens_by_keyboard(page, demo):
    open_page(page, demo + FORM_URL)
    radio = page.locator("input[type=radio][name^=round_]").first
    described = page.locator("#" + radio.get_attribute("aria-describedby"))
    assert re.search(r"nog \d+ plekken vrij", described.inner_text())
    box = radio.locator("xpath=..")
    more = box.locator("details.choice__more")
    assert more.locator("xpath=ancestor::label").count() == 0
    text = more.locator(".prose")
    assert not text.is_visible()

    more.locator("summary").focus()
    page.keyboard.press("Enter")

    assert text.is_visible()
    assert not radio.is_checked(), "opening the text does not choose the session"
    radio.focus()
    page.keyboard.press("Space")
    assert radio.is_checked()


def pdf_pages(pdf_bytes, tmp_path):
    pdf = tmp_path / "page.pdf"
    pdf.write_bytes(pdf_bytes)
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


@pytest.mark.parametrize("url", [DVDB_URL, DEMO_URL], ids=["seed", "demo"])
def test_the_dag_van_de_buurt_prints_on_at_most_four_a4_pages(page, demo, tmp_path, url):
    open_page(page, demo + url)

    pages = pdf_pages(page.pdf(format="A4"), tmp_path)

    assert pages <= 4, f"{url} prints on {pages} A4 pages"
