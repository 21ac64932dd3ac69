"""A participant registers for the Dag van de Buurt in a real browser, keyboard only."""

import datetime
import re

import pytest
from django.core import mail
from django.utils import timezone

from events.models import Event
from events.services import copy_as_draft

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dag_van_de_buurt(seed_fixtures):
    """An upcoming, open copy of the seed event (the seed itself lies in the past)."""
    seed = Event.objects.get(slug="dag-van-de-buurt-2021")
    event = copy_as_draft(
        seed,
        start_date=timezone.localdate() + datetime.timedelta(days=20),
        slug="dag-van-de-buurt-live",
    )
    event.is_published = True
    event.registration_opens_at = timezone.now() - datetime.timedelta(days=1)
    event.registration_closes_at = timezone.now() + datetime.timedelta(days=10)
    event.save()
    return event


def test_register_change_and_cancel_in_browser(live_server, page, dag_van_de_buurt, settings):
    settings.SITE_URL = live_server.url
    event = dag_van_de_buurt
    first_round, second_round = event.rounds.order_by("starts_at")
    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    page.get_by_role("link", name="Aanmelden", exact=True).click()

    # Keyboard only: fields are filled by typing after tabbing to them.
    page.get_by_label("Naam").focus()
    page.keyboard.type("Anna de Vries")
    page.keyboard.press("Tab")
    page.keyboard.type("anna@example.nl")
    page.get_by_label("Organisatie (niet verplicht)").fill("Gemeente Zaanstad")
    page.get_by_role("radio", name="Bewoner", exact=True).focus()
    page.keyboard.press("Space")
    first_choice = first_round.offerings.order_by("pk")[0]
    second_choice = second_round.offerings.exclude(session=first_choice.session).order_by("pk")[0]
    page.locator(f"input[name='round_{first_round.pk}'][value='{first_choice.pk}']").focus()
    page.keyboard.press("Space")
    page.locator(f"input[name='round_{second_round.pk}'][value='{second_choice.pk}']").focus()
    page.keyboard.press("Space")
    page.get_by_label(re.compile("Ik ga ermee akkoord")).focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Aanmelden").focus()
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/aanmelden/ontvangen/$"))
    assert "Kijk in je e-mail" in page.content()
    assert "We hebben een bericht gestuurd naar anna@example.nl." in page.inner_text("main")
    [message] = mail.outbox
    assert message.to == ["anna@example.nl"]
    assert first_choice.session.title in message.body
    assert second_choice.session.title in message.body
    link = re.search(r"(http://\S+/aanmelding/\S+/)", message.body).group(1)

    page.goto(link)
    assert "Je plek bij het evenement en in al je sessies is bevestigd." in page.inner_text("main")
    new_choice = (
        first_round.offerings.exclude(pk=first_choice.pk)
        .exclude(session=second_choice.session)
        .order_by("pk")[0]
    )
    page.locator(f"input[name='round_{first_round.pk}'][value='{new_choice.pk}']").check()
    page.get_by_role("button", name="Mijn keuzes opslaan").click()
    assert "Je keuzes zijn opgeslagen." in page.inner_text("main")
    assert new_choice.session.title in page.inner_text(".choice-status")

    page.get_by_role("link", name="Mijn aanmelding annuleren").click()
    page.get_by_role("button", name="Ja, annuleer mijn aanmelding").click()
    assert "Deze aanmelding is geannuleerd." in page.inner_text("main")
    registration = event.registrations.get()
    assert registration.status == "cancelled"
    assert [m.subject for m in mail.outbox] == [
        f"Je aanmelding voor {event.title}",
        f"Gewijzigd: je aanmelding voor {event.title}",
        f"Geannuleerd: je aanmelding voor {event.title}",
    ]
