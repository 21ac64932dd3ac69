"""Defects found in review, each pinned by a test."""

import datetime
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from events.models import Event
from events.services import copy_as_draft
from events.templatetags.event_tags import registration_label
from registrations import services
from registrations.models import SeatReservation
from tests.factories import EventFactory, build_programme

pytestmark = pytest.mark.django_db


def person(number, role="resident", name=None):
    return services.Person(name=name or f"P{number}", email=f"p{number}@example.nl", role=role)


def one_seat_event(**kwargs):
    event = build_programme(
        sessions=1, rounds=1, speakers_per_session=0, event_speakers=0, **kwargs
    )
    offering = event.offerings.get()
    offering.capacity = 1
    offering.save()
    return event, offering


def test_winner_who_cancels_before_confirmation_leaves_the_seat_to_the_next(
    django_capture_on_commit_callbacks, mailoutbox
):
    event, offering = one_seat_event()
    event.allocation_mode = Event.AllocationMode.PREFERENCE
    event.preferences_close_at = timezone.now() + datetime.timedelta(days=1)
    event.save()
    people = [
        services.register_preferences(
            event, person=person(n), preferences={offering.round_id: [offering.pk]}
        ).registration
        for n in range(2)
    ]
    event.preferences_close_at = timezone.now() - datetime.timedelta(minutes=1)
    event.save()
    run = services.run_allocation(event, seed=1)
    winner_id = next(pid for pid, _rid, _oid in run.result["assignments"])
    services.cancel_registration(next(r for r in people if r.pk == winner_id))

    services.confirm_allocation(run)

    [confirmed] = offering.choices.confirmed()
    assert confirmed.registration_id != winner_id
    assert confirmed.registration.status == "confirmed"


def test_released_reserved_seat_goes_to_the_waiting_before_a_newcomer():
    event, offering = one_seat_event()
    reservation = SeatReservation.objects.create(
        event=event, offering=offering, role="resident", share=100,
        released_at=timezone.now() + datetime.timedelta(days=1),
    )  # fmt: skip
    services.register_attendee(event, person=person(1, "civil_servant"), offering_ids=[offering.pk])
    reservation.released_at = timezone.now() - datetime.timedelta(minutes=1)
    reservation.save()

    late = services.register_attendee(
        event, person=person(2, "civil_servant"), offering_ids=[offering.pk]
    )

    assert offering.choices.confirmed().get().registration.email == "p1@example.nl"
    assert late.registration.choices.get().status == "waiting"


def test_lottery_refuses_two_group_reservations_on_one_session():
    event, offering = one_seat_event()
    event.allocation_mode = Event.AllocationMode.PREFERENCE
    event.preferences_close_at = timezone.now() - datetime.timedelta(minutes=1)
    event.save()
    for role in ["resident", "entrepreneur"]:
        SeatReservation.objects.create(
            event=event, offering=offering, role=role, share=50,
            released_at=timezone.now() + datetime.timedelta(days=1),
        )  # fmt: skip

    with pytest.raises(ValidationError) as excinfo:
        services.run_allocation(event, seed=1)

    assert excinfo.value.code == "two_reservations"


def test_copy_of_a_preference_event_moves_its_deadline_and_starts_unallocated():
    event = EventFactory(
        start_date=datetime.date(2026, 3, 1),
        registration_opens_at=timezone.make_aware(datetime.datetime(2026, 1, 1, 9)),
        allocation_mode=Event.AllocationMode.PREFERENCE,
        preferences_close_at=timezone.make_aware(datetime.datetime(2026, 2, 1, 9)),
        allocated_at=timezone.make_aware(datetime.datetime(2026, 2, 2, 9)),
    )

    copy = copy_as_draft(event)

    assert copy.preferences_close_at == timezone.make_aware(datetime.datetime(2027, 2, 1, 9))
    assert copy.allocated_at is None


def test_preference_mode_needs_a_deadline():
    event = EventFactory.build(allocation_mode=Event.AllocationMode.PREFERENCE, venue=None)

    with pytest.raises(ValidationError) as excinfo:
        event.full_clean(exclude=["slug"])

    assert list(excinfo.value.message_dict) == ["preferences_close_at"]


def test_view_only_staff_cannot_duplicate_or_draw(client):
    event = EventFactory()
    user = User.objects.create_user("kijker", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(user)

    for action in ["duplicate_events", "draw_lottery"]:
        client.post(
            reverse("admin:events_event_changelist"),
            {"action": action, "_selected_action": [event.pk]},
        )

    assert Event.objects.count() == 1
    assert event.allocation_runs.count() == 0


def test_exports_quote_spreadsheet_formulas(client):
    event, offering = one_seat_event()
    services.register_attendee(
        event, person=person(1, name='=HYPERLINK("http://x","klik")'), offering_ids=[offering.pk]
    )
    organiser = User.objects.create_superuser("org", "o@example.nl", "x")
    client.force_login(organiser)

    xlsx = client.get(reverse("registrations:offering_export", args=[offering.pk, "xlsx"]))
    csv_text = client.get(
        reverse("registrations:offering_export", args=[offering.pk, "csv"])
    ).content.decode("utf-8-sig")

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    # A text cell that stays text when edited, without a visible apostrophe.
    assert (sheet["B5"].data_type, sheet["B5"].quotePrefix) == ("s", True)
    assert sheet["B5"].value == '=HYPERLINK("http://x","klik")'
    data_row = csv_text.splitlines()[1]
    assert data_row.startswith("1;\"'=HYPERLINK(")


def test_my_sessions_counts_are_not_multiplied_by_other_moderators(client):
    event, offering = one_seat_event()
    services.register_attendee(event, person=person(1), offering_ids=[offering.pk])
    me = User.objects.create_user("ik", password="x")
    event.moderators.add(me)
    offering.moderators.add(User.objects.create_user("a"), User.objects.create_user("b"))
    client.force_login(me)

    response = client.get(reverse("registrations:my_sessions"))

    [line] = response.context["offerings"]
    assert line.confirmed == 1


def test_registration_opening_is_shown_in_amsterdam_time():
    event = EventFactory(
        registration_opens_at=timezone.make_aware(datetime.datetime(2099, 3, 1, 9, 0)),
    )

    assert registration_label(event) == "Aanmelden opent op 1 maart 2099, 09:00"


def test_admin_cannot_edit_seats_directly(admin_client):
    event, offering = one_seat_event()
    registration = services.register_attendee(
        event, person=person(1), offering_ids=[offering.pk]
    ).registration

    page = admin_client.get(
        reverse("admin:registrations_registration_change", args=[registration.pk])
    )

    form = page.context["adminform"].form
    assert "status" not in form.fields
    assert "event" not in form.fields


def test_deleting_a_registration_in_the_admin_moves_the_next_up(admin_client):
    event, offering = one_seat_event()
    first = services.register_attendee(event, person=person(1), offering_ids=[offering.pk])
    second = services.register_attendee(event, person=person(2), offering_ids=[offering.pk])

    admin_client.post(
        reverse("admin:registrations_registration_delete", args=[first.registration.pk]),
        {"post": "yes"},
    )

    assert second.registration.choices.get().status == "confirmed"


def test_capacity_raised_on_the_session_page_moves_people_up(admin_client):
    event, offering = one_seat_event()
    services.register_attendee(event, person=person(1), offering_ids=[offering.pk])
    waiting = services.register_attendee(event, person=person(2), offering_ids=[offering.pk])
    session = offering.session

    admin_client.post(
        reverse("admin:events_session_change", args=[session.pk]),
        {
            "event": event.pk, "title": session.title, "slug": session.slug, "theme": "",
            "summary": "", "description": "", "order": 0,
            "roles-TOTAL_FORMS": 0, "roles-INITIAL_FORMS": 0,
            "offerings-TOTAL_FORMS": 1, "offerings-INITIAL_FORMS": 1,
            "offerings-0-id": offering.pk, "offerings-0-session": session.pk,
            "offerings-0-round": offering.round_id, "offerings-0-capacity": 2,
            "offerings-0-location": "", "offerings-0-order": 0,
        },
    )  # fmt: skip

    assert waiting.registration.choices.get().status == "confirmed"


def test_cancelling_after_the_event_changes_nothing(client, mailoutbox):
    event, offering = one_seat_event()
    first = services.register_attendee(event, person=person(1), offering_ids=[offering.pk])
    services.register_attendee(event, person=person(2), offering_ids=[offering.pk])
    Event.objects.filter(pk=event.pk).update(
        start_date=timezone.localdate() - datetime.timedelta(days=1)
    )
    mailoutbox.clear()

    response = client.post(reverse("registrations:cancel", args=[first.registration.token]))

    first.registration.refresh_from_db()
    assert response.status_code == 409
    assert first.registration.status == "confirmed"
    assert mailoutbox == []
    assert "kan niet meer worden geannuleerd" in response.content.decode()
