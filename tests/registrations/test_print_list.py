"""The sign-in sheet and the cue card printed to PDF by Chromium, as a moderator prints them."""

import re
import shutil
import subprocess

import pytest
from django.urls import reverse

from registrations import services
from tests.browser import log_in
from tests.factories import single_offering

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SURNAMES = [
    "Aarts", "de Boer", "Claassen", "van Dijk", "El Amrani", "Fransen", "de Graaf", "Hendriks",
    "Jansen", "Kok", "van der Lans", "Meijer", "Nijland", "Öztürk", "Peters", "de Ruiter",
    "Smit", "ter Horst", "Uijl", "Visser", "de Wit", "Yilmaz", "Zwart", "Bakker", "Dekker",
    "Mulder", "Vos", "Postma", "Koster", "Willems",
]  # fmt: skip


def _list_with(moderator, count, waiting=()):
    """An offering with `count` participants (and `waiting` on its waiting list)."""
    offering = single_offering(count)
    offering.location = "Tafel 3"
    offering.save()
    names = [f"{first} {surname}" for first in ("Anna", "Bram") for surname in SURNAMES][:count]
    for number, name in enumerate([*names, *waiting]):
        services.register_attendee(
            offering.event,
            person=services.Person(
                name=name,
                email=f"p{number}@example.nl",
                role="resident",
                # Every third one long enough to take two lines, as real organisations do.
                organisation="Bewonersvereniging De Lange Naam van Zaandam-Oost"
                if number % 3 == 0
                else "Buurt",
                function="beleidsmedewerker wonen en leefbaarheid",
            ),
            offering_ids=[offering.pk],
        )
    offering.moderators.add(moderator)
    return offering, names


def _page_count(pdf):
    """Pages of a PDF: pdfinfo where poppler is installed, else its page objects."""
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
        return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE).group(1))
    return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))


def _pdf_pages_text(pdf):
    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext (poppler-utils) is needed; .ci/run installs it")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")[:-1]


def _print_sheet(page, live_server, offering, path):
    page.goto(live_server.url + reverse("registrations:offering_attendees", args=[offering.pk]))
    page.pdf(path=str(path), format="A4")
    return _page_count(path)


def test_sixty_people_fit_on_three_a4_pages_with_the_head_on_each(
    live_server, page, moderator, tmp_path
):
    offering, names = _list_with(moderator, 60, waiting=["Chris Wachtman", "Dana Wachtvrouw"])
    log_in(page.context, live_server.url, moderator)
    pdf = tmp_path / "lijst.pdf"

    pages = _print_sheet(page, live_server, offering, pdf)

    # About 25 people a page: 20 under the header on page 1, then 25, then 15 and the
    # waiting list, which follows the list instead of taking a page of its own.
    assert pages == 3
    texts = _pdf_pages_text(pdf)
    assert len(texts) == 3
    for number, text in enumerate(texts, start=1):
        assert "Handtekening" in text  # the repeated table head
        assert offering.session.title in text  # the repeated caption with the session
        assert "Tafel 3" in text
        assert re.search(rf"\b{number}\s*/\s*3\b", text), f"no page number on page {number}"
    assert "60 deelnemers" in texts[0]
    assert offering.round.title in texts[0]
    for name in names:
        assert name in "".join(texts), name
    assert "Wachtlijst" in texts[2] and "Dana Wachtvrouw" in texts[2]
    assert "Inloggen" not in "".join(texts) and "Uitloggen" not in "".join(texts)
    assert "beleidsmedewerker" not in "".join(texts)  # the function only on screen


def test_two_people_print_on_one_page(live_server, page, moderator, tmp_path):
    offering, names = _list_with(moderator, 2, waiting=["Chris Wachtman"])
    log_in(page.context, live_server.url, moderator)
    pdf = tmp_path / "lijst.pdf"

    pages = _print_sheet(page, live_server, offering, pdf)

    assert pages == 1
    [text] = _pdf_pages_text(pdf)
    assert names[0] in text and names[1] in text and "Chris Wachtman" in text
    assert re.search(r"\b1\s*/\s*1\b", text)


def test_cue_card_prints_on_one_a5_page(live_server, page, moderator, tmp_path):
    offering, _names = _list_with(moderator, 12)
    log_in(page.context, live_server.url, moderator)
    pdf = tmp_path / "kaart.pdf"
    page.goto(live_server.url + reverse("registrations:offering_cue_card", args=[offering.pk]))

    page.pdf(path=str(pdf), prefer_css_page_size=True)

    assert _page_count(pdf) == 1
    # A5 is 420 x 595 points.
    assert re.search(rb"/MediaBox \[0 0 420 59[45]", pdf.read_bytes())
