"""Organisers keep the order given, each with its part, and an optional line."""

import pytest
from django.urls import reverse

from events.models import EventOrganiser, SeriesOrganiser
from events.services import copy_as_draft
from tests.factories import EventFactory, OrganisationFactory, SeriesFactory

pytestmark = pytest.mark.django_db


def organise(owner, link_model, *parts, **owner_field):
    for order, (name, role) in enumerate(parts, start=1):
        link_model.objects.create(
            organisation=OrganisationFactory(name=name), role=role, order=order, **owner_field
        )


@pytest.fixture
def event():
    event = EventFactory(organisers_line="in samenwerking met de bewoners van Overvecht")
    organise(
        event,
        EventOrganiser,
        ("Zeist Beweegt", "organiser"),
        ("Amsterdam Verbindt", "organiser"),
        ("Wijkraad", "partner"),
        ("Fonds Buurt", "supporter"),
        event=event,
    )
    return event


def test_event_page_shows_organisers_in_the_order_given_by_part(client, event):
    content = client.get(event.get_absolute_url()).content.decode()

    assert "<dt>Organisatie</dt>\n        <dd>Zeist Beweegt, Amsterdam Verbindt<br>" in content
    assert "<dt>In samenwerking met</dt>\n        <dd>Wijkraad</dd>" in content
    assert "<dt>Mede mogelijk gemaakt door</dt>\n        <dd>Fonds Buurt</dd>" in content
    assert (
        'Amsterdam Verbindt<br><span lang="nl">in samenwerking met de bewoners van Overvecht</span>'
        in content
    )
    assert content.index('"name": "Zeist Beweegt"') < content.index('"name": "Amsterdam Verbindt"')

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "<dt>Supported by</dt>" in client.get(event.get_absolute_url()).content.decode()


def test_equal_order_falls_back_to_the_alphabet_as_before(client):
    event = EventFactory()
    for name in ["Zaanstad", "Amsterdam"]:
        event.organisers.add(OrganisationFactory(name=name))  # as loaddata does: order 0
    assert "<dd>Amsterdam, Zaanstad</dd>" in client.get(event.get_absolute_url()).content.decode()


def test_series_page_groups_organisers_by_part(client):
    series = SeriesFactory(organisers_line="met steun van de provincie")
    organise(
        series,
        SeriesOrganiser,
        ("Binnenlands Bestuur", "organiser"),
        ("Ministerie", "supporter"),
        ("Nederlands Gesprek Centrum", "organiser"),
        series=series,
    )
    content = client.get(series.get_absolute_url()).content.decode()

    assert "<li>Binnenlands Bestuur</li><li>Nederlands Gesprek Centrum</li></ul>" in content
    assert '<h2 class="panel__title">Mede mogelijk gemaakt door</h2>' in content
    assert '<p lang="nl">met steun van de provincie</p>' in content


def test_a_copy_keeps_order_and_parts(event):
    copy = copy_as_draft(event)
    assert [(link.organisation.name, link.role) for link in copy.organiser_links.all()] == [
        ("Zeist Beweegt", "organiser"),
        ("Amsterdam Verbindt", "organiser"),
        ("Wijkraad", "partner"),
        ("Fonds Buurt", "supporter"),
    ]


def test_admin_edits_organisers_inline(admin_client, event):
    response = admin_client.get(reverse("admin:events_event_change", args=[event.pk]))
    content = response.content.decode()
    assert 'name="organiser_links-0-role"' in content
    assert 'name="organisers_line"' in content


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_the_organisers_of_events_and_series():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("events", "0010_places_in_venue_and_doors_open")]
    after = [("events", "0011_organisers_in_order_with_their_part")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    organisation = old.get_model("speakers", "Organisation").objects.create(
        name="Gemeente Zaanstad", slug="gemeente-zaanstad"
    )
    event = old.get_model("events", "Event").objects.create(
        title="Middag", slug="middag", start_date="2020-01-01"
    )
    event.organisers.add(organisation)
    series = old.get_model("events", "Series").objects.create(title="Reeks", slug="reeks")
    series.organisers.add(organisation)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps

    event_link = new.get_model("events", "EventOrganiser").objects.get()
    series_link = new.get_model("events", "SeriesOrganiser").objects.get()
    assert (event_link.event_id, event_link.organisation_id, event_link.role) == (
        event.pk,
        organisation.pk,
        "organiser",
    )
    assert series_link.series_id == series.pk

    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
