"""Session kinds: editable, shown wherever a session is, and a filter on the event page."""

import html

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from events import defaults
from events.models import SessionKind
from registrations import services
from tests.factories import (
    build_programme,
    registration_form_data,
)

pytestmark = pytest.mark.django_db


def kind(code):
    return SessionKind.objects.get(code=code)


def english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})


@pytest.fixture
def kinds_event():
    """Three sessions in two rounds: a workshop on housing, a table session on housing
    and an excursion on energy."""
    event = build_programme(sessions=3, rounds=2, capacity=100)
    workshop, table, excursion = event.sessions.order_by("order")
    for session, code, theme in [
        (workshop, "workshop", "Wonen"),
        (table, "table_session", "Wonen"),
        (excursion, "excursion", "Energie"),
    ]:
        session.kind, session.theme = kind(code), theme
        session.save()
    return event


def session_titles(content):
    return sorted(set(_titles(content)))


def _titles(content):
    for part in content.split('<h4 class="session-card__title">')[1:]:
        yield html.unescape(part.split('">', 1)[1].split("</a>", 1)[0])


def test_the_migration_gives_dutch_defaults_with_english_names():
    assert list(SessionKind.objects.values_list("name", "name_en")) == [
        ("workshop", "workshop"),
        ("tafelsessie", "table session"),
        ("masterclass", "masterclass"),
        ("ronde tafel", "round table"),
        ("praktijksessie", "practice session"),
        ("excursie", "excursion"),
    ]


def test_an_emptied_list_is_refilled_but_an_edited_one_is_left_alone():
    SessionKind.objects.exclude(code="workshop").delete()
    defaults.create_all(django_apps, "default")
    assert list(SessionKind.objects.values_list("code", flat=True)) == ["workshop"]

    SessionKind.objects.all().delete()
    defaults.create_all(django_apps, "default")
    assert SessionKind.objects.count() == len(defaults.SESSION_KINDS)


def test_cards_and_session_page_show_the_kind_in_the_visitors_language(client, kinds_event):
    content = client.get(kinds_event.get_absolute_url()).content.decode()
    assert '<p class="session-card__kind" lang="nl">Tafelsessie</p>' in content

    session = kinds_event.sessions.get(kind__code="excursion")
    page = client.get(session.get_absolute_url()).content.decode()
    assert '<p class="page-header__kicker">Excursie · Energie</p>' in page

    english(client)
    content = client.get(kinds_event.get_absolute_url()).content.decode()
    assert '<p class="session-card__kind" lang="en">Table session</p>' in content


def test_a_session_without_kind_shows_none(client):
    event = build_programme(sessions=1, rounds=1)
    content = client.get(event.get_absolute_url()).content.decode()
    assert "session-card__kind" not in content
    page = client.get(event.sessions.get().get_absolute_url()).content.decode()
    assert '<p class="page-header__kicker">Sessie</p>' in page


def test_registration_form_shows_the_kind_next_to_each_choice(client, kinds_event):
    content = client.get(reverse("registrations:create", args=[kinds_event.slug])).content
    assert content.decode().count('<span class="choice__kind">workshop</span>') == 2


def test_the_email_and_sign_in_sheet_name_the_kind(
    client, kinds_event, django_capture_on_commit_callbacks
):
    organiser = User.objects.create_user("organisator", password="x", is_staff=True)
    organiser.user_permissions.add(Permission.objects.get(codename="view_registration"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("registrations:create", args=[kinds_event.slug]),
            registration_form_data(kinds_event),
        )
    [message] = mail.outbox
    workshop = kinds_event.sessions.get(kind__code="workshop")
    assert f"{workshop.title} (workshop)" in message.body
    assert f"{workshop.title} (workshop)" in message.alternatives[0][0]

    client.force_login(organiser)
    offering = workshop.offerings.first()
    sheet = client.get(reverse("registrations:offering_attendees", args=[offering.pk]))
    assert f'<span lang="nl">{workshop.title}</span> (workshop)' in sheet.content.decode()


def test_filter_by_kind_and_theme_without_javascript(client, kinds_event):
    url = kinds_event.get_absolute_url()
    workshop, table, excursion = (
        kinds_event.sessions.get(kind__code=code).title
        for code in ["workshop", "table_session", "excursion"]
    )

    everything = client.get(url).content.decode()
    assert session_titles(everything) == sorted([workshop, table, excursion])
    assert 'name="kind"' in everything and 'name="theme"' in everything

    by_kind = client.get(url, {"kind": "excursion"}).content.decode()
    assert session_titles(by_kind) == [excursion]
    assert "2 sessies getoond" in by_kind  # one per round

    by_theme = client.get(url, {"theme": "Wonen"}).content.decode()
    assert session_titles(by_theme) == sorted([workshop, table])

    both = client.get(url, {"kind": "workshop", "theme": "Energie"}).content.decode()
    assert session_titles(both) == []
    assert "0 sessies getoond" in both


def test_a_kind_not_offered_shows_every_session(client, kinds_event):
    content = client.get(kinds_event.get_absolute_url(), {"kind": "masterclass"}).content
    assert len(session_titles(content.decode())) == 3


def test_no_filter_form_with_one_kind_and_no_themes(client):
    event = build_programme(sessions=2, rounds=1)
    event.sessions.update(kind=kind("workshop"))
    assert 'class="programme-filter"' not in client.get(event.get_absolute_url()).content.decode()


def test_filtered_event_page_costs_the_same_queries(client, kinds_event):
    def count(params):
        with CaptureQueriesContext(connection) as context:
            client.get(kinds_event.get_absolute_url(), params)
        return len(context.captured_queries)

    # 9th: the seats; one of them: the seat reservations the seats name.
    assert count({}) == count({"kind": "workshop", "theme": "Wonen"}) == 9


def test_sessions_in_the_email_use_the_participants_language(
    kinds_event, django_capture_on_commit_callbacks
):
    excursion = kinds_event.sessions.get(kind__code="excursion").offerings.first()
    anna = services.Person(name="Anna", email="anna@example.nl", role="resident", language="en")
    with django_capture_on_commit_callbacks(execute=True):
        services.register_attendee(kinds_event, person=anna, offering_ids=[excursion.pk])
    [message] = mail.outbox
    assert f"{excursion.session.title} (excursion)" in message.body


def test_an_event_or_series_can_have_kinds_of_its_own_offered_only_there(db):
    from events.models import Session
    from tests.factories import EventFactory, SeriesFactory

    series = SeriesFactory()
    event, other = EventFactory(series=series), EventFactory()
    own = SessionKind.objects.create(code="wijkwandeling", name="wijkwandeling", event=event)
    of_series = SessionKind.objects.create(code="praktijkdag", name="praktijkdag", series=series)

    assert set(SessionKind.objects.for_event(event)) >= {own, of_series, kind("workshop")}
    assert own not in SessionKind.objects.for_event(other)
    assert of_series not in SessionKind.objects.for_event(other)
    with pytest.raises(ValidationError) as error:
        Session(event=other, title="Wandeling", slug="wandeling", kind=own).full_clean()
    assert "kind" in error.value.message_dict
    Session(event=event, title="Wandeling", slug="wandeling", kind=own).full_clean()


def test_the_kinds_of_series_are_an_editable_list_with_the_former_choices(db):
    from events.models import SeriesKind
    from tests.factories import SeriesFactory

    assert list(SeriesKind.objects.values_list("code", "name", "name_en")) == [
        ("year_programme", "jaarprogramma", "year programme"),
        ("congress", "jaarlijks congres", "annual congress"),
        ("relay", "estafette", "relay series"),
        ("other", "reeks", "series"),
    ]
    SeriesKind.objects.create(code="learning", name="leertraject", name_en="learning track")
    series = SeriesFactory(kind_id="learning")
    assert series.kind.shown == "leertraject"
