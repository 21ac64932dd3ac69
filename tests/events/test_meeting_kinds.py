"""A series describes its kinds of meeting and lists its events by kind; an event says
which part of a series it is."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.urls import reverse

from events.models import MeetingKind
from tests.factories import EventFactory, SeriesFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def series():
    series = SeriesFactory()
    practice = MeetingKind.objects.create(
        series=series,
        name="Praktijkdag",
        audience="voor wijkcoalities",
        frequency="twee keer per jaar",
        order=2,
    )
    policy = MeetingKind.objects.create(
        series=series, name="Beleidsatelier", audience="voor beleidsmakers", order=1
    )
    EventFactory(series=series, meeting_kind=practice, title="Praktijkdag Noord")
    EventFactory(series=series, meeting_kind=policy, title="Atelier Zuid")
    EventFactory(series=series, title="Slotbijeenkomst")
    return series


def test_series_page_lists_events_grouped_by_kind_in_order(
    client, series, django_assert_num_queries
):
    with django_assert_num_queries(3):
        content = client.get(series.get_absolute_url()).content.decode()

    positions = [
        content.index(text)
        for text in [
            "Beleidsatelier", "voor beleidsmakers", "Atelier Zuid",
            "Praktijkdag</span>", "voor wijkcoalities · twee keer per jaar", "Praktijkdag Noord",
            "Andere bijeenkomsten", "Slotbijeenkomst",
        ]
    ]  # fmt: skip
    assert positions == sorted(positions)


def test_series_without_kinds_lists_its_events_as_before(client):
    series = SeriesFactory()
    EventFactory(series=series)
    content = client.get(series.get_absolute_url()).content.decode()
    assert "meeting-kind" not in content
    assert '<ol class="card-list" aria-labelledby="events-heading">' in content


def test_event_says_which_part_of_the_series_it_is(client, series):
    event = EventFactory(series=series, part_number=2, part_count=2)

    assert " · deel 2 van 2" in client.get(event.get_absolute_url()).content.decode()
    assert "deel 2 van 2" in client.get(reverse("events:home")).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert " · part 2 of 2" in client.get(event.get_absolute_url()).content.decode()


def test_part_cannot_exceed_the_number_of_parts(series):
    with pytest.raises(IntegrityError):
        EventFactory(series=series, part_number=3, part_count=2)


def test_meeting_kind_must_belong_to_the_events_series(series):
    other = EventFactory(series=SeriesFactory(), meeting_kind=series.meeting_kinds.first())
    with pytest.raises(ValidationError) as error:
        other.full_clean()
    assert "meeting_kind" in error.value.message_dict


def test_admin_edits_kinds_of_meeting_on_the_series(admin_client, series):
    content = admin_client.get(reverse("admin:events_series_change", args=[series.pk])).content
    assert b'name="meeting_kinds-0-audience"' in content
