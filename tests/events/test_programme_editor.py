"""The programme editor: the whole day on one page, every change a small form."""

import datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils.html import strip_tags

from events.models import ProgrammeBlock, Round, Session, SessionOffering, SessionRole
from registrations import services
from registrations.models import QueuedEmail
from speakers.models import Organisation, Speaker
from tests.factories import (
    EventFactory,
    SessionFactory,
    SpeakerFactory,
    build_programme,
)

pytestmark = pytest.mark.django_db


def editor_url(event):
    return reverse("admin:events_event_programme", args=[event.pk])


def post(client, event, action, target="", **data):
    return client.post(editor_url(event), {"action": action, "target": target, **data})


def public_text(client, event):
    """The public event page's text, without tags."""
    html = client.get(event.get_absolute_url()).content.decode()
    return " ".join(strip_tags(html).split())


def book(event, offering, name="Anna", email="anna@example.nl"):
    services.register_attendee(
        event,
        person=services.Person(name=name, email=email, role="resident"),
        offering_ids=[offering.pk],
    )


# Permissions


def test_anonymous_visitors_go_to_the_login(client):
    event = EventFactory()
    response = client.get(editor_url(event))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_staff_without_change_permission_get_403(client):
    event = EventFactory()
    user = User.objects.create_user("kijker", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(user)
    assert client.get(editor_url(event)).status_code == 403
    assert post(client, event, "round-add").status_code == 403
    people = reverse("admin:events_event_programme_people", args=[event.pk])
    assert client.get(people, {"q": "an"}).status_code == 403


def test_staff_with_change_permission_may_edit(client):
    event = EventFactory()
    user = User.objects.create_user("organisator", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_event"))
    client.force_login(user)
    assert client.get(editor_url(event)).status_code == 200


def test_editor_is_linked_from_change_page_list_and_imports(admin_client):
    event = EventFactory()
    url = editor_url(event)
    for page in [
        reverse("admin:events_event_change", args=[event.pk]),
        reverse("admin:events_event_changelist"),
        reverse("admin:events_event_programme_import", args=[event.pk]),
        reverse("admin:events_event_session_import", args=[event.pk]),
    ]:
        assert f'href="{url}"' in admin_client.get(page).content.decode(), page


# Building a programme


def test_an_event_without_rounds_explains_how_to_add_them(admin_client):
    content = admin_client.get(editor_url(EventFactory())).content.decode()
    assert "Nog geen rondes" in content
    assert 'name="new-round-title"' in content


def test_blocks_and_rounds_are_added_and_shown_in_time_order(admin_client):
    event = EventFactory()
    post(
        admin_client,
        event,
        "round-add",
        **{"new-round-starts_at": "15:00", "new-round-ends_at": "15.45", "new-round-title": "R1"},
    )
    post(
        admin_client,
        event,
        "block-add",
        **{
            "new-block-starts_at": "14:00",
            "new-block-ends_at": "14:30",
            "new-block-kind": "reception",
            "new-block-title": "Ontvangst",
            "new-block-location": "Foyer",
        },
    )
    assert Round.objects.get(event=event).ends_at == datetime.time(15, 45)
    assert ProgrammeBlock.objects.get(event=event).location == "Foyer"
    content = admin_client.get(editor_url(event)).content.decode()
    assert content.index('id="block-') < content.index('id="round-')
    assert "Foyer" in public_text(admin_client, event)


def test_a_form_with_errors_comes_back_in_place_with_dutch_messages(admin_client):
    event = EventFactory()
    response = post(
        admin_client,
        event,
        "round-add",
        **{
            "new-round-starts_at": "15:00",
            "new-round-ends_at": "14:00",
            "new-round-title": "Ronde met een fout",
        },
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "Het eindtijdstip moet na het begintijdstip liggen." in content or "eind" in content
    assert 'value="Ronde met een fout"' in content
    assert not Round.objects.exists()

    response = post(admin_client, event, "round-add", **{"new-round-starts_at": "kwart over"})
    assert response.status_code == 400
    assert "Vul een tijd in zoals 14:30." in response.content.decode()


def test_bad_actions_and_targets_give_400_not_500(admin_client):
    event = EventFactory()
    assert post(admin_client, event, "nonsense", "1").status_code == 400
    assert post(admin_client, event, "round-edit", "abc").status_code == 400
    assert post(admin_client, event, "round-edit", "99999999999999999999").status_code == 400
    other = build_programme(sessions=1, rounds=1)
    response = post(admin_client, event, "round-delete", other.rounds.get().pk)
    assert response.status_code == 302
    assert other.rounds.exists()


def test_new_session_in_a_round_is_one_form_and_shows_publicly(admin_client):
    event = build_programme(sessions=0, rounds=1)
    round_ = event.rounds.get()
    response = post(
        admin_client,
        event,
        "session-new",
        round_.pk,
        **{
            f"new-session-{round_.pk}-title": "Buurtbudgetten",
            f"new-session-{round_.pk}-summary": "Hoe ga je ermee om?",
            f"new-session-{round_.pk}-capacity": "12",
            f"new-session-{round_.pk}-location": "Tafel 1",
        },
    )
    assert response.status_code == 302
    offering = SessionOffering.objects.get(round=round_)
    assert (offering.capacity, offering.location) == (12, "Tafel 1")
    assert offering.session.slug == "buurtbudgetten"
    content = public_text(admin_client, event)
    assert "Buurtbudgetten" in content and "Hoe ga je ermee om?" in content


def test_new_session_with_text_for_seats_keeps_what_was_typed(admin_client):
    event = build_programme(sessions=0, rounds=1)
    round_ = event.rounds.get()
    response = post(
        admin_client,
        event,
        "session-new",
        round_.pk,
        **{f"new-session-{round_.pk}-title": "Tafel", f"new-session-{round_.pk}-capacity": "12a"},
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "Vul een aantal plaatsen in, of laat het leeg." in content
    assert 'value="Tafel"' in content
    assert not Session.objects.filter(event=event).exists()


def test_an_existing_session_joins_another_round_in_one_submission(admin_client):
    event = build_programme(sessions=1, rounds=2)
    first, second = event.rounds.order_by("order")
    SessionOffering.objects.filter(round=second).delete()
    offering = SessionOffering.objects.get(round=first)
    offering.location, offering.capacity = "Tafel 7", 9
    offering.save()
    response = post(
        admin_client,
        event,
        "offer",
        second.pk,
        **{f"offer-{second.pk}-session": offering.session_id},
    )
    assert response.status_code == 302
    copy = SessionOffering.objects.get(round=second)
    assert (copy.session_id, copy.location, copy.capacity) == (offering.session_id, "Tafel 7", 9)
    # Offering it twice in one round is refused with a message.
    response = post(
        admin_client,
        event,
        "offer",
        second.pk,
        **{f"offer-{second.pk}-session": offering.session_id},
    )
    assert response.status_code == 400
    assert "Kies een sessie van dit evenement." in response.content.decode()


def test_session_text_is_edited_in_place(admin_client):
    event = build_programme(sessions=1, rounds=1)
    session = event.sessions.get()
    response = post(
        admin_client,
        event,
        "session-edit",
        session.pk,
        **{
            f"session-{session.pk}-title": "Nieuwe titel",
            f"session-{session.pk}-summary": "Korte tekst",
            f"session-{session.pk}-description": "Lange tekst",
        },
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.title, session.summary) == ("Nieuwe titel", "Korte tekst")
    assert "Nieuwe titel" in public_text(admin_client, event)


def test_leaders_are_found_by_name_and_organisation_or_created(admin_client):
    event = build_programme(sessions=1, rounds=1, speakers_per_session=0)
    session = event.sessions.get()
    known = SpeakerFactory(name="Suzanne van Eerden")
    prefix = f"person-{session.pk}"
    post(
        admin_client,
        event,
        "person-add",
        session.pk,
        **{f"{prefix}-name": "suzanne van eerden", f"{prefix}-role": "leader"},
    )
    assert list(session.roles.values_list("speaker", flat=True)) == [known.pk]

    post(
        admin_client,
        event,
        "person-add",
        session.pk,
        **{
            f"{prefix}-name": "Sander Siegmann",
            f"{prefix}-organisation": "Gemeente Amsterdam",
            f"{prefix}-role": "leader",
        },
    )
    new = Speaker.objects.get(name="Sander Siegmann")
    assert new.organisation == Organisation.objects.get(name="Gemeente Amsterdam")
    content = public_text(admin_client, event)
    assert "Sander Siegmann, Gemeente Amsterdam" in content

    response = post(
        admin_client,
        event,
        "person-add",
        session.pk,
        **{f"{prefix}-name": "Sander Siegmann", f"{prefix}-role": "leader"},
    )
    assert response.status_code == 400
    assert "heeft deze rol al" in response.content.decode()


def test_search_without_javascript_lists_people_to_pick(admin_client):
    event = build_programme(sessions=1, rounds=1, speakers_per_session=0)
    session = event.sessions.get()
    speaker = SpeakerFactory(name="Froukje Idsardi")
    content = admin_client.get(
        editor_url(event), {"bewerk": session.pk, "zoek": "froukje"}
    ).content.decode()
    assert "Froukje Idsardi" in content
    post(admin_client, event, "person-pick", session.pk, speaker=speaker.pk, role="leader")
    assert SessionRole.objects.filter(session=session, speaker=speaker).exists()
    people = reverse("admin:events_event_programme_people", args=[event.pk])
    assert admin_client.get(people, {"q": "frouk"}).json()["results"][0]["value"] == (
        "Froukje Idsardi"
    )


def test_session_staff_are_added_by_user_name_email_or_name(admin_client):
    event = build_programme(sessions=1, rounds=1)
    offering = event.offerings.get()
    user = User.objects.create_user(
        "tafelleider", "t@example.nl", first_name="Tom", last_name="Tafel"
    )
    prefix = f"moderator-{offering.pk}"
    post(admin_client, event, "moderator-add", offering.pk, **{f"{prefix}-person": "Tom Tafel"})
    assert list(offering.moderators.all()) == [user]
    response = post(
        admin_client, event, "moderator-add", offering.pk, **{f"{prefix}-person": "niemand"}
    )
    assert response.status_code == 400
    assert "Niemand met een login" in response.content.decode()


def test_sessions_are_reordered_within_a_round_on_the_public_page(admin_client):
    event = build_programme(sessions=3, rounds=1)
    offerings = list(event.rounds.get().offerings.order_by("order", "session__order", "pk"))
    titles = [offering.session.title for offering in offerings]
    post(admin_client, event, "offering-up", offerings[2].pk)
    content = public_text(admin_client, event)
    assert content.index(titles[2]) < content.index(titles[1])
    post(admin_client, event, "offering-down", offerings[0].pk)
    content = public_text(admin_client, event)
    assert content.index(titles[2]) < content.index(titles[0]) < content.index(titles[1])


# One card open at a time


def test_cards_are_closed_until_edit_is_chosen_and_then_show_every_form(admin_client):
    event = build_programme(sessions=2, rounds=2)
    mine, other = event.sessions.order_by("order", "pk")
    mine_offerings = list(mine.offerings.order_by("pk"))
    other_offering = other.offerings.first()
    closed = admin_client.get(editor_url(event)).content.decode()
    for offering in [*mine_offerings, other_offering]:
        assert f'name="offering-{offering.pk}-capacity"' not in closed
        assert f'href="?bewerk={offering.session_id}#offering-{offering.pk}"' in closed
    assert f'name="session-{mine.pk}-title"' not in closed

    opened = admin_client.get(editor_url(event), {"bewerk": mine.pk}).content.decode()
    for offering in mine_offerings:  # both rounds: seats, room, round and staff
        assert f'name="offering-{offering.pk}-capacity"' in opened
        assert f'name="moderator-{offering.pk}-person"' in opened
    assert f'name="session-{mine.pk}-title"' in opened
    assert f'name="person-{mine.pk}-name"' in opened
    assert f'name="offering-{other_offering.pk}-capacity"' not in opened
    assert f'name="session-{other.pk}-title"' not in opened


def test_a_session_of_another_event_or_nonsense_opens_no_card(admin_client):
    event = build_programme(sessions=1, rounds=1)
    elsewhere = build_programme(sessions=1, rounds=1).sessions.get()
    for value in [elsewhere.pk, "abc", "99999999999999999999"]:
        response = admin_client.get(editor_url(event), {"bewerk": value})
        assert response.status_code == 200
        assert "editor-card--editing" not in response.content.decode()


def test_after_a_save_the_card_stays_open_at_its_place(admin_client):
    event = build_programme(sessions=1, rounds=1)
    session = event.sessions.get()
    offering = event.offerings.get()
    response = post(
        admin_client, event, "session-edit", session.pk, **{f"session-{session.pk}-title": "T"}
    )
    assert response["Location"].endswith(f"?bewerk={session.pk}#session-{session.pk}")
    prefix = f"offering-{offering.pk}"
    response = post(
        admin_client,
        event,
        "offering-edit",
        offering.pk,
        **{f"{prefix}-round": offering.round_id, f"{prefix}-location": "Zaal 3"},
    )
    assert response["Location"].endswith(f"?bewerk={session.pk}#offering-{offering.pk}")
    content = admin_client.get(response["Location"]).content.decode()
    assert 'value="Zaal 3"' in content
    # Moving a card keeps the page closed.
    response = post(admin_client, event, "offering-down", offering.pk)
    assert response["Location"].endswith(f"#offering-{offering.pk}")
    assert "bewerk" not in response["Location"]


def test_a_new_session_opens_for_its_leaders(admin_client):
    event = build_programme(sessions=0, rounds=1)
    round_ = event.rounds.get()
    response = post(
        admin_client,
        event,
        "session-new",
        round_.pk,
        **{f"new-session-{round_.pk}-title": "Buurtbudgetten"},
    )
    session = event.sessions.get()
    assert response["Location"].endswith(f"?bewerk={session.pk}#session-{session.pk}")
    content = admin_client.get(response["Location"]).content.decode()
    assert f'name="person-{session.pk}-name"' in content


@pytest.mark.parametrize("form", ["offering", "moderator", "session", "person"])
def test_a_form_with_errors_opens_its_card_with_what_was_typed(admin_client, form):
    event = build_programme(sessions=2, rounds=1)
    session, other = event.sessions.order_by("order", "pk")
    offering = session.offerings.get()
    action, target, data = {
        "offering": ("offering-edit", offering.pk, {"round": offering.round_id, "capacity": "12a"}),
        "moderator": ("moderator-add", offering.pk, {"person": "12a"}),
        "session": ("session-edit", session.pk, {"title": "", "theme": "12a"}),
        "person": ("person-add", session.pk, {"name": "", "organisation": "12a"}),
    }[form]
    prefix = f"{form}-{target}"
    response = post(
        admin_client, event, action, target, **{f"{prefix}-{k}": v for k, v in data.items()}
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert 'value="12a"' in content
    assert content.count("editor-card--editing") == 1
    assert f'name="session-{session.pk}-title"' in content
    assert f'name="session-{other.pk}-title"' not in content


# Changes that touch booked people


def test_deleting_a_booked_offering_is_refused_with_cancel_instead(admin_client):
    event = build_programme(sessions=1, rounds=1)
    offering = event.offerings.get()
    book(event, offering)
    response = post(admin_client, event, "offering-delete", offering.pk)
    assert SessionOffering.objects.filter(pk=offering.pk).exists()
    content = admin_client.get(response["Location"]).content.decode()
    assert "kan niet worden verwijderd" in content and "Annuleer" in content
    assert reverse("admin:events_sessionoffering_cancel", args=[offering.pk]) in content
    post(admin_client, event, "round-delete", offering.round_id)
    assert Round.objects.filter(pk=offering.round_id).exists()


def test_a_room_change_of_a_booked_offering_first_shows_the_consequences(admin_client):
    event = build_programme(sessions=1, rounds=1)
    offering = event.offerings.get()
    book(event, offering)
    prefix = f"offering-{offering.pk}"
    data = {
        f"{prefix}-round": offering.round_id,
        f"{prefix}-capacity": offering.capacity or "",
        f"{prefix}-location": "Zaal 9",
    }
    response = post(admin_client, event, "offering-edit", offering.pk, **data)
    assert response.status_code == 200
    assert "Er is nog niets opgeslagen." in response.content.decode()
    offering.refresh_from_db()
    assert offering.location != "Zaal 9"
    assert not QueuedEmail.objects.filter(kind="programme_change").exists()

    response = post(
        admin_client,
        event,
        "offering-edit",
        offering.pk,
        _programme_change_confirmed="1",
        **data,
    )
    assert response.status_code == 302
    offering.refresh_from_db()
    assert offering.location == "Zaal 9"
    assert QueuedEmail.objects.filter(kind="programme_change").count() == 1


def test_capacity_below_confirmed_goes_through_the_consequences(admin_client):
    event = build_programme(sessions=1, rounds=1)
    offering = event.offerings.get()
    book(event, offering)
    book(event, offering, "Bob", "bob@example.nl")
    prefix = f"offering-{offering.pk}"
    response = post(
        admin_client,
        event,
        "offering-edit",
        offering.pk,
        **{f"{prefix}-round": offering.round_id, f"{prefix}-capacity": "1"},
    )
    assert "Meer mensen dan plaatsen" in response.content.decode()
    offering.refresh_from_db()
    assert offering.capacity != 1


def test_a_round_time_change_without_bookings_is_saved_at_once(admin_client):
    event = build_programme(sessions=1, rounds=1)
    round_ = event.rounds.get()
    prefix = f"round-{round_.pk}"
    response = post(
        admin_client,
        event,
        "round-edit",
        round_.pk,
        **{
            f"{prefix}-starts_at": "10:00",
            f"{prefix}-ends_at": "11:00",
            f"{prefix}-title": "Ochtend",
        },
    )
    assert response.status_code == 302
    round_.refresh_from_db()
    assert (round_.starts_at, round_.title) == (datetime.time(10), "Ochtend")
    assert "Ochtend" in public_text(admin_client, event)


def test_a_round_time_change_with_bookings_asks_first(admin_client):
    event = build_programme(sessions=1, rounds=1)
    round_ = event.rounds.get()
    book(event, event.offerings.get())
    prefix = f"round-{round_.pk}"
    response = post(
        admin_client,
        event,
        "round-edit",
        round_.pk,
        **{f"{prefix}-starts_at": "10:00", f"{prefix}-title": round_.title},
    )
    assert "Er is nog niets opgeslagen." in response.content.decode()
    round_.refresh_from_db()
    assert round_.starts_at != datetime.time(10)


# Query counts


@pytest.mark.parametrize("sessions", [2, 12])
@pytest.mark.parametrize("open_card", [False, True])
def test_editor_queries_do_not_grow_with_the_sessions(
    admin_client, django_assert_max_num_queries, sessions, open_card
):
    event = build_programme(sessions=sessions, rounds=3)
    for offering in event.offerings.all()[:3]:
        offering.moderators.add(User.objects.get(username="admin"))
    SessionFactory(event=event)  # one without a round
    query = {"bewerk": event.offerings.first().session_id} if open_card else {}
    with django_assert_max_num_queries(16):
        response = admin_client.get(editor_url(event), query)
    assert response.status_code == 200
