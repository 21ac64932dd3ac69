"""The consequences page in a real browser: what an organiser sees before a change saves."""

import datetime

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from events.models import SessionOffering
from registrations import services
from registrations.models import QueuedEmail, SessionChoice, Status
from tests.browser import log_in
from tests.factories import (
    EventFactory,
    RoundFactory,
    SessionFactory,
    SessionOfferingFactory,
    person,
)
from tests.test_accessibility import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def booked(live_server, page):
    event = EventFactory(capacity=100, title="Dag van de Buurt")
    rounds = [
        RoundFactory(
            event=event,
            title=f"Ronde {n}",
            starts_at=datetime.time(13 + n),
            ends_at=datetime.time(13 + n, 45),
            order=n,
        )
        for n in (1, 2)
    ]
    a = SessionOfferingFactory(
        session=SessionFactory(event=event, title="Buurtbudget"), round=rounds[0], capacity=10
    )
    b = SessionOfferingFactory(
        session=SessionFactory(event=event, title="Groen in de wijk"), round=rounds[1]
    )
    people = [
        services.register_attendee(
            event, person=person(n), offering_ids=[a.pk, b.pk] if n == 1 else [a.pk]
        ).registration
        for n in range(1, 5)
    ]
    organiser = User.objects.create_superuser("organisator", "o@example.nl", "x")
    log_in(page.context, live_server.url, organiser)
    return event, rounds, a, b, people


def accessible_at_both_widths(page, name):
    """No axe violations; no sideways scrolling on a phone; screenshots in /tmp/h16."""
    assert_accessible(page)
    for width in (390, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"/tmp/h16/{name}-{width}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_consequences_page_shows_what_happens_and_saves_only_on_confirmation(
    page, live_server, booked
):
    _event, rounds, a, b, people = booked
    page.goto(f"{live_server.url}/admin/events/session/{a.session_id}/change/")
    row_id = page.locator(f"input[name^='offerings-'][name$='-id'][value='{a.pk}']")
    row = page.locator("tr.form-row", has=row_id)
    row.locator("select[name$='-round']").select_option(str(rounds[1].pk))
    row.locator("input[name$='-capacity']").fill("2")
    page.locator("input[name='_save']").first.click()

    expect(page.get_by_role("heading", name="Twee sessies in één ronde")).to_be_visible()
    expect(page.get_by_role("heading", name="Meer mensen dan plaatsen")).to_be_visible()
    assert SessionOffering.objects.get(pk=a.pk).round_id == rounds[0].pk  # nothing saved yet
    accessible_at_both_widths(page, "consequences")

    page.get_by_label("Voor iedereen hieronder, tenzij per persoon gekozen").select_option(
        "keep_other"
    )
    page.locator(f"input[name='_decide_capacity_{a.pk}'][value='waiting']").check()
    page.get_by_label("Een korte toelichting voor de e-mail (niet verplicht)").fill("Excuses!")
    page.get_by_role(
        "button", name="Wijziging opslaan en iedereen die geraakt wordt e-mailen"
    ).click()

    expect(page.locator(".messagelist")).to_contain_text("deelnemers krijgen een e-mail")
    offering = SessionOffering.objects.get(pk=a.pk)
    assert (offering.round_id, offering.capacity) == (rounds[1].pk, 2)
    statuses = dict(
        SessionChoice.objects.filter(offering=a).values_list("registration_id", "status")
    )
    # P1 kept Groen in de wijk; of the other three, the latest registered now waits.
    assert statuses == {
        people[0].pk: Status.CANCELLED,
        people[1].pk: Status.CONFIRMED,
        people[2].pk: Status.CONFIRMED,
        people[3].pk: Status.WAITING,
    }
    told = QueuedEmail.objects.filter(kind=QueuedEmail.Kind.PROGRAMME_CHANGE)
    assert sorted(told.values_list("registration_id", flat=True)) == [p.pk for p in people]
    assert told.first().details["note"] == "Excuses!"


def test_one_person_page_is_accessible_and_fits_a_phone(page, live_server, booked):
    _event, _rounds, _a, _b, people = booked
    page.goto(f"{live_server.url}/admin/registrations/registration/{people[0].pk}/choices/")

    expect(page.get_by_role("button", name="De hele aanmelding annuleren")).to_be_visible()
    accessible_at_both_widths(page, "person")


def test_a_correction_offers_do_not_notify_and_stays_accessible(page, live_server, booked):
    event, _rounds, _a, _b, _people = booked
    page.goto(f"{live_server.url}/admin/events/event/{event.pk}/change/")
    page.locator("input[name='title']").fill("Dag van de Buurt 2027")
    page.locator("input[name='_save']").first.click()

    choice = page.get_by_label("Nee, stuur niemand bericht")
    expect(choice).to_be_visible()
    accessible_at_both_widths(page, "correction")
    choice.check()
    page.get_by_role(
        "button", name="Wijziging opslaan en iedereen die geraakt wordt e-mailen"
    ).click()

    expect(page.locator(".messagelist")).to_contain_text("niemand gemaild")
    assert not QueuedEmail.objects.filter(kind=QueuedEmail.Kind.PROGRAMME_CHANGE).exists()


def test_the_overview_finds_one_person_to_act_on(page, live_server, booked):
    event, _rounds, _a, _b, people = booked
    page.goto(f"{live_server.url}/organisatie/evenement/{event.pk}/")
    page.get_by_label("Zoek een deelnemer op naam of e-mailadres").fill("P2")
    page.get_by_role("button", name="Zoeken").click()

    link = page.get_by_role("link", name="P2", exact=True)
    expect(link).to_be_visible()
    accessible_at_both_widths(page, "overview")
    link.click()
    expect(page.get_by_role("button", name="De hele aanmelding annuleren")).to_be_visible()
