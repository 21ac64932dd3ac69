"""The event page's overview before the detail (issue 20): per round every session with
its kind, leaders and seats, jump links to the rounds, the filter, and a registration bar
for phones that only an event taking registrations shows."""

import datetime
import re

import pytest
from django.utils import timezone

from events.models import SessionKind
from tests.factories import build_programme

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    """Two rounds of three sessions, every session in both with 12 seats; 100 in all."""
    event = build_programme(sessions=3, rounds=2, speakers_per_session=2, capacity=100)
    for session, code, theme in zip(
        event.sessions.order_by("order"),
        ["workshop", "table_session", "excursion"],
        "ABC",
        strict=True,
    ):
        session.kind, session.theme = SessionKind.objects.get(code=code), f"Thema {theme}"
        session.save()
    return event


def page(client, event, params=None):
    response = client.get(event.get_absolute_url(), params or {})
    assert response.status_code == 200
    return response.content.decode()


def overview(content):
    start = content.index('<section class="overview"')
    return content[start : content.index('<ol class="timeline">')]


def round_sections(content):
    return re.findall(
        r'<section class="overview__round" id="(overzicht-\d+)".*?</section>',
        overview(content),
        re.S,
    )


def test_the_overview_comes_before_the_programme_with_a_jump_link_per_round(client, event):
    content = page(client, event)
    rounds = list(event.rounds.order_by("order"))

    part = overview(content)
    jumps = re.findall(r'<a href="#(overzicht-\d+)">', part)
    assert jumps == [f"overzicht-{round_.pk}" for round_ in rounds]
    assert round_sections(content) == jumps
    for round_ in rounds:
        assert f'id="ronde-{round_.pk}"' in content  # the round in the detailed programme
        assert f'href="#ronde-{round_.pk}"' in part


def test_each_round_lists_every_session_with_kind_leaders_and_seats(client, event):
    content = page(client, event)
    part = overview(content)

    for round_ in event.rounds.all():
        section = re.search(
            rf'<section class="overview__round" id="overzicht-{round_.pk}".*?</section>',
            part,
            re.S,
        ).group(0)
        for offering in round_.offerings.all():
            session = offering.session
            item = re.search(
                rf'<li class="overview__item"[^>]*>\s*<a class="overview__title" lang="nl" '
                rf'href="#sessie-{session.slug}">.*?</li>',
                section,
                re.S,
            ).group(0)
            assert session.title in item
            assert session.kind.shown.capitalize() in item
            for role in session.roles.all():
                assert role.name in item
            assert "nog 12 plekken vrij" in item
    assert part.count("overview__item") == 6


def test_a_session_in_several_rounds_is_described_once_and_referred_to(client, event):
    content = page(client, event)
    part = overview(content)
    assert part.count("ook in Ronde 1") == 3  # the second round refers to the first
    for session in event.sessions.all():
        assert content.count(f'id="sessie-{session.slug}"') == 1


def test_the_filter_narrows_the_overview_too(client, event):
    content = page(client, event, {"kind": "workshop"})
    part = overview(content)
    assert part.count("overview__item") == 2  # one per round
    assert "2 sessies getoond" in content


def test_a_filter_matching_nothing_says_so_per_round(client, event):
    content = page(client, event, {"kind": "workshop", "theme": "Thema B"})
    assert overview(content).count("Geen sessies getoond in deze ronde.") == 2


def test_without_javascript_the_filter_is_a_form_and_with_it_instant(client, event):
    content = page(client, event)
    assert 'data-instant="true"' in content
    assert "js/programme_filter.js" in content
    for session in event.sessions.all():
        assert f'data-kind="{session.kind.code}" data-theme="{session.theme}"' in content
    # A page filtered by the server lacks the other sessions: a change asks the server.
    assert 'data-instant="false"' in page(client, event, {"kind": "workshop"})


def test_an_open_event_has_a_registration_bar(client, event):
    content = page(client, event)
    bar = re.search(r'<div class="register-bar">(.*?)</div>', content, re.S).group(1)
    assert f'href="/evenementen/{event.slug}/aanmelden/"' in bar
    assert "Aanmelden" in bar


def test_a_full_event_bar_offers_the_waiting_list(client, event):
    event.capacity = 0
    event.save()
    bar = re.search(r'<div class="register-bar">(.*?)</div>', page(client, event), re.S)
    assert "wachtlijst" in bar.group(1).lower()


@pytest.mark.parametrize(
    "change",
    [
        {"start_date": timezone.localdate() - datetime.timedelta(days=3)},  # past
        {"registration_closes_at": timezone.now() - datetime.timedelta(hours=1)},
        {"registration_enabled": False},
    ],
    ids=["past", "closed", "no registration"],
)
def test_no_registration_bar_when_registering_is_not_possible(client, event, change):
    for name, value in change.items():
        setattr(event, name, value)
    event.save()
    content = page(client, event)
    assert "register-bar" not in content
    assert "overview__item" in content


def test_a_past_event_overview_shows_no_seats(client, event):
    event.start_date = timezone.localdate() - datetime.timedelta(days=3)
    event.save()
    assert "plekken" not in overview(page(client, event))
