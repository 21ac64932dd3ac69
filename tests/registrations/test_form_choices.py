"""The registration form describes each choice (issue 20): kind and theme, the leaders with
their organisation, the room, the seats left and a short text, the full text in place."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events.models import SessionKind
from tests.factories import OrganisationFactory, SessionRoleFactory, SpeakerFactory, build_programme

pytestmark = pytest.mark.django_db

LONG_SUMMARY = " ".join(f"woord{number}" for number in range(40))


@pytest.fixture
def described_event():
    event = build_programme(sessions=2, rounds=1, speakers_per_session=0, event_speakers=0)
    session = event.sessions.order_by("order").first()
    session.title = "Wonen in de wijk"
    session.kind = SessionKind.objects.get(code="workshop")
    session.theme = "Wonen en vastgoed"
    session.summary = "Wat bewoners zelf doen."
    session.description = "Wat bewoners zelf doen.\n\nEen tweede alinea met alle details."
    session.save()
    speaker = SpeakerFactory(
        name="Fatima el Amrani", organisation=OrganisationFactory(name="Ymere")
    )
    SessionRoleFactory(session=session, speaker=speaker)
    offering = session.offerings.get()
    offering.location = "Zaal 3"
    offering.capacity = 20
    offering.save()
    return event, offering


def form_html(client, event):
    response = client.get(reverse("registrations:create", args=[event.slug]))
    assert response.status_code == 200
    return response.content.decode()


def choice_box(html, offering):
    """The <div class="form-check"> of `offering`'s radio."""
    start = html.index(f'value="{offering.pk}"')
    start = html.rindex('<div class="form-check">', 0, start)
    end = html.index('<div class="form-check">', start + 1)
    return html[start:end]


def test_each_choice_shows_kind_theme_leaders_room_seats_and_short_text(client, described_event):
    event, offering = described_event
    box = choice_box(form_html(client, event), offering)

    label = re.search(r"<label [^>]*>(.*?)</label>", box, re.S).group(1)
    assert "Wonen in de wijk" in label
    assert "Fatima" not in label, "the label stays short: the title"
    details_id = re.search(r'aria-describedby="([^"]+)"', box).group(1)
    details = re.search(rf'<div id="{details_id}" class="choice__details">(.*?)</div>', box, re.S)
    assert details, "the radio is described by the choice's details"
    text = re.sub(r"<[^>]+>", "", details.group(1))
    for expected in [
        "workshop",
        "Wonen en vastgoed",
        "Door: Fatima el Amrani (Ymere)",
        "Waar: Zaal 3",
        "nog 20 plekken vrij",
        "Wat bewoners zelf doen.",
    ]:
        assert expected in text
    assert "tweede alinea" not in text


def test_the_full_text_opens_in_place_outside_the_label(client, described_event):
    event, offering = described_event
    box = choice_box(form_html(client, event), offering)

    details = re.search(r"<details class=\"choice__more\">(.*?)</details>", box, re.S)
    assert details
    assert "Lees meer" in details.group(1)
    assert "Een tweede alinea met alle details." in details.group(1)
    assert box.index("</label>") < box.index("<details"), "details may not be in the label"
    # The summary is shown once: not repeated in the text that opens.
    assert details.group(1).count("Wat bewoners zelf doen.") == 0


def test_a_long_short_text_is_cut_and_the_full_text_opens(client, described_event):
    event, offering = described_event
    offering.session.summary = LONG_SUMMARY
    offering.session.description = ""
    offering.session.save()
    box = choice_box(form_html(client, event), offering)

    shown = re.search(r'<span class="choice__summary" lang="nl">(.*?)</span>', box).group(1)
    assert "woord19" in shown and "woord20" not in shown
    details = re.search(r"<details class=\"choice__more\">(.*?)</details>", box, re.S).group(1)
    assert "woord39" in details


def test_a_choice_without_details_keeps_a_plain_radio(client, described_event):
    event, _offering = described_event
    html = form_html(client, event)
    no_session = re.search(r'<input type="radio"[^>]*value="0"[^>]*>', html).group(0)
    assert "aria-describedby" not in no_session


def test_errors_and_details_both_describe_the_radio(client, described_event):
    event, offering = described_event
    response = client.post(reverse("registrations:create", args=[event.slug]), {"name": "Anna"})
    assert response.status_code == 400
    box = choice_box(response.content.decode(), offering)
    described = re.search(r'aria-describedby="([^"]+)"', box).group(1).split()
    assert described[0].endswith("_details")
    assert described[1].startswith("error_1_")


@pytest.mark.parametrize("page_cache_seconds", [0, 60])
def test_form_queries_do_not_grow_with_sessions_and_leaders(client, settings, page_cache_seconds):
    """Rendering the form (not kept, or the first time) costs the same whatever the size
    of the programme: leaders and their organisations come with the rounds."""
    settings.PAGE_CACHE_SECONDS = page_cache_seconds
    counts = []
    for sessions in (2, 12):
        event = build_programme(sessions=sessions, rounds=2, speakers_per_session=3, capacity=50)
        for session in event.sessions.all():
            session.theme = "Wonen"
            session.save()
        url = reverse("registrations:create", args=[event.slug])
        with CaptureQueriesContext(connection) as context:
            assert client.get(url).status_code == 200
        counts.append(len(context.captured_queries))
    assert counts[0] == counts[1]
