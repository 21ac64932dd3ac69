"""The sign-in sheet printed to A4 PDF by Chromium, as a moderator would print it."""

import re
import shutil
import subprocess

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from registrations import services
from tests.factories import single_offering

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SURNAMES = [
    "Aarts", "de Boer", "Claassen", "van Dijk", "El Amrani", "Fransen", "de Graaf", "Hendriks",
    "Jansen", "Kok", "van der Lans", "Meijer", "Nijland", "Öztürk", "Peters", "de Ruiter",
    "Smit", "ter Horst", "Uijl", "Visser", "de Wit", "Yilmaz", "Zwart", "Bakker", "Dekker",
    "Mulder", "Vos", "Postma", "Koster", "Willems",
]  # fmt: skip


@pytest.fixture
def sixty_on_a_list(moderator):
    offering = single_offering(60)
    offering.location = "Tafel 3"
    offering.save()
    event = offering.event
    names = [f"{first} {surname}" for first in ("Anna", "Bram") for surname in SURNAMES]
    names += ["Chris Wachtman", "Dana Wachtvrouw"]  # the waiting list
    for number, name in enumerate(names):
        services.register_attendee(
            event,
            person=services.Person(
                name=name, email=f"p{number}@example.nl", role="resident", organisation="Buurt"
            ),
            offering_ids=[offering.pk],
        )
    offering.moderators.add(moderator)
    return offering, moderator, names


def test_sign_in_sheet_prints_on_a4_with_repeated_header_and_page_numbers(
    live_server, page, sixty_on_a_list, tmp_path
):
    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext (poppler-utils) is needed; .ci/run installs it")
    offering, moderator, names = sixty_on_a_list
    client = Client()
    client.force_login(moderator)
    page.context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.goto(live_server.url + reverse("registrations:offering_attendees", args=[offering.pk]))
    pdf = tmp_path / "lijst.pdf"

    page.pdf(path=str(pdf), format="A4")

    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = text.split("\f")[:-1]
    # 60 names at one signature line each: three pages, then the waiting list alone.
    assert len(pages) == 4
    table_pages, waiting_page = pages[:-1], pages[-1]
    assert all("Handtekening" in sheet for sheet in table_pages)
    assert [
        re.search(rf"\b{number}\s*/\s*4\b", sheet) is not None
        for number, sheet in enumerate(pages, start=1)
    ] == [True] * 4
    assert "60 deelnemers" in table_pages[0]
    assert offering.session.title in table_pages[0]
    assert "Tafel 3" in table_pages[0]
    for name in names[:60]:
        assert name in "".join(table_pages), name
    assert "Wachtlijst" in waiting_page
    assert "Chris Wachtman" in waiting_page and "Dana Wachtvrouw" in waiting_page
    assert "Chris Wachtman" not in "".join(table_pages)
    assert "Inloggen" not in text and "Uitloggen" not in text  # no navigation on paper
