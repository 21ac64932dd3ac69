"""Every seed event page presents its whole programme, in Dutch and in English."""

import html
import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from events.models import Event
from events.templatetags.event_tags import event_dates

pytestmark = pytest.mark.django_db


def _seed_events():
    return Event.objects.published().exclude(slug__startswith="demo-").order_by("start_date")


def _round_sections(content):
    """Map each round title to the HTML of its part of the timeline."""
    parts = re.split(r'<h3 class="timeline__title" lang="nl">', content)[1:]
    return {html.unescape(part.split("</h3>", 1)[0]): part for part in parts}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_every_seed_event_page_shows_sessions_speakers_flags_and_dates(
    client, seed_fixtures, language
):
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    events = list(_seed_events())
    assert len(events) == 16  # 1 + 8 + 1 + 1 + 5 seed events

    for event in events:
        response = client.get(event.get_absolute_url())
        content = html.unescape(response.content.decode())

        with translation.override(language):
            assert event_dates(event) in content, event.slug
        assert f'<html lang="{language}">' in content
        if event.is_provisional:
            assert ("onder voorbehoud" if language == "nl" else "provisional") in content
        if event.time_to_be_confirmed:
            assert (
                "tijd nader te bepalen" if language == "nl" else "time to be confirmed"
            ) in content
        sections = _round_sections(content)
        for round_ in event.rounds.all():
            section = sections[round_.title]
            titles = [offering.session.title for offering in round_.offerings.all()]
            assert [title for title in titles if f">{title}</a></h4>" in section] == titles
        for role in event.roles.select_related("speaker"):
            # The name links to the speaker page, which carries the biography.
            assert f'href="{role.speaker.get_absolute_url()}">{role.speaker.name}<' in content
            speaker_page = html.unescape(
                client.get(role.speaker.get_absolute_url()).content.decode()
            )
            for paragraph in role.speaker.biography.split("\n\n"):
                assert paragraph.strip() in speaker_page, (event.slug, role.speaker.name)


def test_dag_van_de_buurt_page_in_english_has_english_chrome(client, seed_fixtures):
    event = Event.objects.get(slug="dag-van-de-buurt-2021")
    client.post(reverse("set_language"), {"language": "en", "next": "/"})

    content = client.get(event.get_absolute_url()).content.decode()

    with translation.override("en"):
        assert date_format(event.start_date, "l j F Y") == "Thursday 28 January 2021"
    assert "Thursday 28 January 2021" in content
    assert "Speakers and guests" in content
    assert "13 sessions to choose from" in content
    assert "Sprekers en gasten" not in content
