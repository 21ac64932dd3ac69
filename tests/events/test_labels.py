"""Kinds of event and roles of people are editable lists, Dutch and English; an evening
shows the evening name of a role; the migration keeps every existing value."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from events.models import EventKind, RoleLabel
from tests.factories import EventFactory, EventRoleFactory, SessionRoleFactory

pytestmark = pytest.mark.django_db


def get(client, url, language="nl"):
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    return client.get(url).content.decode()


def test_defaults_keep_the_former_choices_and_add_the_new_ones():
    assert EventKind.objects.get(code="study_afternoon").name == "studiemiddag"
    assert {"kennisatelier", "inspiratiebijeenkomst", "praktijkbijeenkomst"} <= set(
        EventKind.objects.values_list("name", flat=True)
    )
    chair = RoleLabel.objects.get(code="chair")
    assert (chair.name, chair.name_en, chair.evening_name) == (
        "dagvoorzitter",
        "chair",
        "avondvoorzitter",
    )
    assert {"keynote", "tafelgast", "gespreksleider", "sessieleider"} <= set(
        RoleLabel.objects.values_list("name", flat=True)
    )


@pytest.mark.parametrize(
    ("start", "language", "expected"),
    [
        (datetime.time(13, 0), "nl", "Dagvoorzitter"),
        (datetime.time(19, 30), "nl", "Avondvoorzitter"),
        (datetime.time(19, 30), "en", "Chair"),
    ],
)
def test_the_chair_is_named_after_the_part_of_the_day(client, start, language, expected):
    role = EventRoleFactory(role="chair", event__start_time=start, event__end_time=None)

    content = get(client, role.event.get_absolute_url(), language)

    assert f"<dt>{expected}</dt>" in content
    assert f"<strong>{expected}</strong>" in get(client, role.speaker.get_absolute_url(), language)


def test_a_role_added_in_the_list_shows_in_both_languages(client):
    RoleLabel.objects.create(
        code="evening_host", name="gastvrouw", name_en="host", in_event_facts=True
    )
    role = EventRoleFactory(role="evening_host")

    assert "<dt>Gastvrouw</dt>" in get(client, role.event.get_absolute_url())
    assert "<dt>Host</dt>" in get(client, role.event.get_absolute_url(), "en")


def test_a_renamed_kind_of_event_shows_on_cards_and_the_event_page(client):
    event = EventFactory(kind_id="knowledge_studio")
    EventKind.objects.filter(code="knowledge_studio").update(name="kennis-atelier")

    assert "Kennis-atelier" in get(client, event.get_absolute_url())
    assert "Kennis-atelier" in get(client, reverse("events:home"))
    assert "Knowledge studio" in get(client, event.get_absolute_url(), "en")


def test_session_roles_show_their_label_on_card_and_session_page(client):
    role = SessionRoleFactory(
        role="discussion_leader",
        session__event__start_time="19:00",
        session__event__end_time=None,
    )
    offering = role.session.offerings.create(
        event=role.session.event,
        round=role.session.event.rounds.create(title="Ronde 1", starts_at="19:30"),
    )
    assert offering.pk
    assert "(gespreksleider)" in get(client, role.session.event.get_absolute_url())
    assert "Discussion leader" in get(client, role.session.get_absolute_url(), "en")


def test_a_label_in_use_cannot_be_deleted():
    from django.db.models import ProtectedError

    EventRoleFactory(role="keynote")
    with pytest.raises(ProtectedError):
        RoleLabel.objects.get(code="keynote").delete()


@pytest.mark.django_db(transaction=True)
def test_migration_maps_every_existing_choice_value_to_a_label():
    executor = MigrationExecutor(connection)
    before = [("events", "0006_session_kinds")]
    after = [("events", "0008_event_kind_and_roles_point_to_labels")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Event = old.get_model("events", "Event")
    Session = old.get_model("events", "Session")
    Speaker = old.get_model("speakers", "Speaker")
    afternoon = Event.objects.create(
        title="Middag", slug="middag", kind="afternoon", start_date="2020-01-01"
    )
    # A value the fixed choices never had (typed into the database directly).
    odd = Event.objects.create(
        title="Vreemd", slug="vreemd", kind="buurt_safari", start_date="2020-01-02"
    )
    speaker = Speaker.objects.create(name="Anna", slug="anna")
    old.get_model("events", "EventRole").objects.create(
        event=afternoon, speaker=speaker, role="chair"
    )
    session = Session.objects.create(event=odd, title="Tafel", slug="tafel")
    old.get_model("events", "SessionRole").objects.create(
        session=session, speaker=speaker, role="table_guest"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps

    events = new.get_model("events", "Event").objects.select_related("kind").order_by("slug")
    assert [(e.slug, e.kind.code, e.kind.name) for e in events] == [
        ("middag", "afternoon", "middagbijeenkomst"),
        ("vreemd", "buurt_safari", "buurt safari"),
    ]
    event_role = new.get_model("events", "EventRole").objects.select_related("role").get()
    assert (event_role.role.name, event_role.role.evening_name) == (
        "dagvoorzitter",
        "avondvoorzitter",
    )
    session_role = new.get_model("events", "SessionRole").objects.select_related("role").get()
    assert session_role.role.name == "tafelgast"

    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
