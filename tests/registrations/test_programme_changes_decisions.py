"""Programme changes: corrections that may go untold, the waiting-list rule for moves,
rankings that move along, the people told besides the participants."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Event, SessionOffering
from registrations import services
from registrations.emails import send_queued
from registrations.models import HistoryEntry, Preference, Registration, SessionChoice, Status
from tests.events.test_admin_bad_input import change_form_data
from tests.factories import (
    RoundFactory,
    SessionFactory,
    SessionOfferingFactory,
    SessionRoleFactory,
    SpeakerFactory,
)
from tests.registrations.test_programme_changes import (
    book,
    confirm,
    edit_event,
    edit_session_of,
    offering_row,
    programme_emails,
    round_row,
)

pytestmark = pytest.mark.django_db


def retitle(page, data):
    data["title"] = "Bijeenkomst (titel verbeterd)"


@pytest.mark.parametrize("notify", ["1", "0"])
def test_a_title_correction_may_go_untold_as_the_organiser_chooses(
    admin_client,
    programme,
    notify,
):
    event, _rounds, a, _b = programme
    anna = book(event, 1, [a])

    page = edit_event(admin_client, event, retitle)

    assert page.templates[0].name == "admin/programme_change/consequences.html"
    html = page.content.decode()
    assert 'name="_decide_notify" value="0"' in html  # "do not notify" is offered
    assert confirm(admin_client, page, notify=notify).status_code == 302
    assert Event.objects.get(pk=event.pk).title == "Bijeenkomst (titel verbeterd)"
    if notify == "0":
        assert not programme_emails().exists()
        assert Event.objects.get(pk=event.pk).calendar_sequence == 0
    else:
        [queued] = programme_emails()
        assert queued.registration_id == anna.pk
        assert queued.details["items"][0]["kind"] == "corrected"


def test_a_session_title_correction_concerns_only_that_sessions_people(
    admin_client,
    programme,
):
    event, _rounds, a, b = programme
    anna, bert = book(event, 1, [a]), book(event, 2, [b])
    url = reverse("admin:events_session_change", args=[a.session_id])
    data = change_form_data(admin_client.get(url))
    data["title"] = "Sessie A, verbeterd"

    page = admin_client.post(url, data)
    confirm(admin_client, page, notify="1")

    assert list(programme_emails().values_list("registration_id", flat=True)) == [anna.pk]
    assert bert.pk not in programme_emails().values_list("registration_id", flat=True)


def test_do_not_notify_is_refused_for_a_change_that_matters(
    admin_client,
    programme,
):
    event, _rounds, a, _b = programme
    book(event, 1, [a])

    def new_room(page, data):
        data[f"{offering_row(page, a)}-location"] = "Zaal 7"

    page = edit_session_of(admin_client, a, new_room)
    assert 'name="_decide_notify"' not in page.content.decode()  # not offered

    refused = confirm(admin_client, page, notify="0")  # sent anyway

    assert refused.status_code == 200
    assert "wordt iedereen die het raakt ingelicht" in refused.content.decode()
    assert SessionOffering.objects.get(pk=a.pk).location != "Zaal 7"
    assert not programme_emails().exists()
    # Told as it should be, it is saved.
    assert confirm(admin_client, refused).status_code == 302
    assert SessionOffering.objects.get(pk=a.pk).location == "Zaal 7"
    assert programme_emails().count() == 1


def test_do_not_notify_is_refused_for_a_cancellation(admin_client, programme):
    event, _rounds, a, _b = programme
    book(event, 1, [a])
    url = reverse("admin:events_sessionoffering_cancel", args=[a.pk])

    refused = admin_client.post(url, {"_programme_change_confirmed": "1", "_decide_notify": "0"})

    assert refused.status_code == 200
    assert SessionOffering.objects.get(pk=a.pk).cancelled_at is None
    assert SessionChoice.objects.active().filter(offering=a).count() == 1


def move(offering, round_):
    def edit(page, data):
        data[f"{offering_row(page, offering)}-round"] = str(round_.pk)

    return edit


def test_the_waiting_list_rule_queues_them_for_the_moved_session_behind_those_waiting(
    admin_client,
    programme,
    mailoutbox,
    settings,
):
    settings.EMAIL_DELIVERY = "queue"
    event, rounds, a, b = programme
    SessionOffering.objects.filter(pk=a.pk).update(capacity=2)
    anna = book(event, 1, [a, b])  # A in round 1, B in round 2
    bert = book(event, 2, [a])
    carl = book(event, 3, [a])  # waits for A

    page = edit_session_of(admin_client, a, move(a, rounds[1]))
    assert "wachtlijst" in page.content.decode()
    confirm(admin_client, page, conflict_rule="waiting")

    assert SessionOffering.objects.get(pk=a.pk).round_id == rounds[1].pk
    choices = SessionChoice.objects.exclude(status=Status.CANCELLED)
    assert dict(choices.filter(offering=a).values_list("registration_id", "status")) == {
        anna.pk: Status.WAITING,
        bert.pk: Status.CONFIRMED,
        carl.pk: Status.CONFIRMED,  # Anna's seat went to the one waiting before her
    }
    assert not choices.filter(registration=anna, offering=b).exists()
    assert HistoryEntry.objects.filter(
        registration=anna, action=HistoryEntry.Action.WAITING, source=HistoryEntry.Source.PROGRAMME
    ).exists()
    [queued] = programme_emails(anna)
    assert [item["kind"] for item in queued.details["items"]] == ["moved", "dropped", "requeued"]
    mailoutbox.clear()
    send_queued([queued.pk])
    [message] = mailoutbox
    assert "Sessie A" in message.body and "wachtlijst" in message.body


def test_a_move_to_an_overlapping_round_is_decided_like_two_in_one_round(
    admin_client,
    programme,
):
    event, rounds, a, b = programme
    overlapping = RoundFactory(
        event=event,
        title="Ronde 2b",
        starts_at=datetime.time(15, 30),
        ends_at=datetime.time(16, 15),
        order=4,
    )
    anna = book(event, 1, [a, b])  # B in round 2: 15:00-15:45

    page = edit_session_of(admin_client, a, move(a, overlapping))
    [conflict] = page.context["plan"].conflicts
    assert (conflict.kind, conflict.registration) == ("time", anna)
    confirm(admin_client, page, conflict_rule="keep_other")

    assert dict(
        SessionChoice.objects.filter(registration=anna).values_list("offering_id", "status")
    ) == {a.pk: Status.CANCELLED, b.pk: Status.CONFIRMED}


def test_the_consequences_page_names_who_now_has_two_sessions_at_the_same_time(
    admin_client,
    programme,
):
    event, rounds, a, b = programme
    book(event, 1, [a, b])  # round 1 14:00-14:45, round 2 15:00-15:45

    def longer(page, data):
        data[f"{round_row(page, rounds[0])}-ends_at"] = "15:30"

    page = edit_event(admin_client, event, longer)

    html = page.content.decode()
    assert "Twee sessies tegelijk" in html
    assert "P1: Sessie A / Sessie B" in html


def test_moving_a_ranked_offering_moves_the_rankings_and_tells_those_who_ranked_it(
    admin_client,
    client,
    programme,
):
    event, rounds, a, b = programme
    Event.objects.filter(pk=event.pk).update(
        allocation_mode=Event.AllocationMode.PREFERENCE,
        preferences_close_at=timezone.now() + datetime.timedelta(days=1),
    )
    event.refresh_from_db()
    c = SessionOfferingFactory(
        session=SessionFactory(event=event, title="Sessie C"), round=rounds[0], capacity=10
    )
    anna = services.register_preferences(
        event,
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
        preferences={rounds[0].pk: [a.pk, c.pk]},
    ).registration

    page = edit_session_of(admin_client, a, move(a, rounds[2]))
    assert page.templates[0].name == "admin/programme_change/consequences.html"
    confirm(admin_client, page)

    assert dict(
        Preference.objects.filter(registration=anna).values_list("offering_id", "round_id")
    ) == {
        a.pk: rounds[2].pk,
        c.pk: rounds[0].pk,
    }
    assert list(programme_emails().values_list("registration_id", flat=True)) == [anna.pk]
    assert client.get(anna.get_absolute_url()).status_code == 200


def test_speakers_without_an_account_are_told_at_their_profile_address(
    admin_client,
    programme,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    event, _rounds, a, b = programme
    book(event, 1, [a])
    SessionRoleFactory(session=a.session, speaker=SpeakerFactory(email="leider@example.nl"))
    SessionRoleFactory(session=a.session, speaker=None, participant="een bewoner")
    SessionRoleFactory(session=b.session, speaker=SpeakerFactory(email="ander@example.nl"))

    def new_room(page, data):
        data[f"{offering_row(page, a)}-location"] = "Zaal 2"

    page = edit_session_of(admin_client, a, new_room)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        confirm(admin_client, page)

    staff_mail = [m for m in mailoutbox if m.to[0] in ("leider@example.nl", "ander@example.nl")]
    assert [m.to for m in staff_mail] == [["leider@example.nl"]]
    assert "Zaal 2" in staff_mail[0].body


def calendar_of(message):
    from icalendar import Calendar

    [(_name, ics, _type)] = message.attachments
    return Calendar.from_ical(ics)


def test_cancelling_the_whole_event_tells_everyone_with_a_calendar_cancellation(
    admin_client, client, programme, mailoutbox, settings
):
    settings.EMAIL_DELIVERY = "queue"
    event, _rounds, a, b = programme
    anna, bert = book(event, 1, [a, b]), book(event, 2, [])
    Registration.objects.filter(pk=bert.pk).update(status=Status.WAITING)  # told too
    change = admin_client.get(reverse("admin:events_event_change", args=[event.pk]))
    url = reverse("admin:events_event_cancel", args=[event.pk])
    assert url in change.content.decode()

    page = admin_client.get(url)
    assert "Nothing has been saved" in page.content.decode() or "Er is nog niets" in (
        page.content.decode()
    )
    assert Event.objects.get(pk=event.pk).cancelled_at is None
    admin_client.post(url, {"_programme_change_confirmed": "1"})

    event.refresh_from_db()
    assert event.cancelled_at is not None and event.calendar_sequence == 1
    assert set(Registration.objects.filter(event=event).values_list("status", flat=True)) == {
        Status.CANCELLED
    }
    assert not SessionChoice.objects.active().filter(registration__event=event).exists()
    assert SessionOffering.objects.current().filter(event=event).count() == 0
    assert sorted(programme_emails().values_list("registration_id", flat=True)) == [
        anna.pk,
        bert.pk,
    ]
    mailoutbox.clear()
    send_queued(list(programme_emails().values_list("pk", flat=True)))
    assert sorted(message.to[0] for message in mailoutbox) == [anna.email, bert.email]
    for message in mailoutbox:
        assert "gaat niet door" in message.body
        calendar = calendar_of(message)
        [entry] = calendar.walk("VEVENT")
        assert calendar["METHOD"] == "CANCEL"
        assert str(entry["UID"]).startswith(f"event-{event.pk}@")
        assert int(entry["SEQUENCE"]) == 1
        assert entry["STATUS"] == "CANCELLED"
    # Nobody can register any more; the page says why.
    detail = client.get(event.get_absolute_url()).content.decode()
    assert "Gaat niet door" in detail


def test_a_cancelled_offering_updates_the_calendar_entry_without_it(
    admin_client, programme, mailoutbox, settings
):
    settings.EMAIL_DELIVERY = "queue"
    event, _rounds, a, b = programme
    anna = book(event, 1, [a, b])

    admin_client.post(
        reverse("admin:events_sessionoffering_cancel", args=[a.pk]),
        {"_programme_change_confirmed": "1"},
    )
    mailoutbox.clear()
    send_queued(list(programme_emails().values_list("pk", flat=True)))

    [message] = mailoutbox
    assert message.to == [anna.email]
    calendar = calendar_of(message)
    [entry] = calendar.walk("VEVENT")
    # The event still takes place: its entry is replaced, now without Sessie A.
    assert calendar["METHOD"] == "PUBLISH" and int(entry["SEQUENCE"]) == 1
    assert str(entry["UID"]).startswith(f"event-{event.pk}@")
    assert "Sessie B" in str(entry["DESCRIPTION"]) and "Sessie A" not in str(entry["DESCRIPTION"])


def test_the_event_cancel_page_is_for_organisers_only(client, organiser, programme):
    event, _rounds, a, _b = programme
    anna = book(event, 1, [a])
    client.force_login(organiser)

    response = client.post(
        reverse("admin:events_event_cancel", args=[event.pk]), {"_programme_change_confirmed": "1"}
    )

    assert response.status_code == 403
    anna.refresh_from_db()
    assert anna.status == Status.CONFIRMED


def test_organisers_find_one_person_on_the_event_overview_and_act_on_them(
    admin_client, client, organiser, programme, django_assert_max_num_queries
):
    event, _rounds, a, _b = programme
    anna = book(event, 1, [a])
    for number in range(2, 30):
        book(event, number, [])
    url = reverse("registrations:event_overview", args=[event.pk])

    with django_assert_max_num_queries(20):
        page = admin_client.get(url, {"q": "p1@example"})

    html = page.content.decode()
    act_url = reverse("admin:registrations_registration_choices", args=[anna.pk])
    assert act_url in html
    assert [found.pk for found in page.context["people_found"]] == [anna.pk]
    assert admin_client.get(act_url).status_code == 200
    # Allowed to see registrations but not to change them: no search, no links.
    client.force_login(organiser)
    seen = client.get(url, {"q": "P1"}).content.decode()
    assert act_url not in seen and 'name="q"' not in seen


def inline_row(page, model_name, pk):
    """The prefix of the row of the `model_name` object `pk` in a change form."""
    return next(
        form.prefix
        for inline in page.context["inline_admin_formsets"]
        for form in inline.formset.forms
        if form.instance._meta.model_name == model_name and form.instance.pk == pk
    )


# Each kind of change in the event admin: (what is edited, who is told).
CHANGES = {
    "block time": (
        lambda p, d, ids: d.update({f"{inline_row(p, *ids['block'])}-starts_at": "12:30"}),
        "all",
    ),
    "block place": (
        lambda p, d, ids: d.update({f"{inline_row(p, *ids['block'])}-location": "Tuin"}),
        "all",
    ),
    "round place": (
        lambda p, d, ids: d.update({f"{inline_row(p, *ids['round'])}-location": "Zolder"}),
        "round 1",
    ),
    "event times": (lambda p, d, ids: d.update({"start_time": "12:15"}), "all"),
    "event venue": (lambda p, d, ids: d.update({"venue": str(ids["venue"])}), "all"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_kind_of_change_keeps_the_choices_and_tells_those_it_concerns(
    admin_client, programme, change
):
    from events.models import Venue
    from tests.factories import ProgrammeBlockFactory

    event, rounds, a, b = programme
    block = ProgrammeBlockFactory(event=event, starts_at=datetime.time(13), title="Ontvangst")
    ids = {
        "block": ("programmeblock", block.pk),
        "round": ("round", rounds[0].pk),
        "venue": Venue.objects.create(name="Wijkcentrum", city="Zaandam").pk,
    }
    anna, bert, carl = book(event, 1, [a]), book(event, 2, [b]), book(event, 3, [])
    before = sorted(SessionChoice.objects.values_list("pk", "offering_id", "status"))
    edit, told = CHANGES[change]

    page = edit_event(admin_client, event, lambda p, d: edit(p, d, ids))
    assert page.templates[0].name == "admin/programme_change/consequences.html"
    assert not programme_emails().exists()
    assert 'name="_decide_notify"' not in page.content.decode()
    assert confirm(admin_client, page).status_code == 302

    assert sorted(SessionChoice.objects.values_list("pk", "offering_id", "status")) == before
    expected = [anna.pk, bert.pk, carl.pk] if told == "all" else [anna.pk]
    assert sorted(programme_emails().values_list("registration_id", flat=True)) == expected
    assert Event.objects.get(pk=event.pk).calendar_sequence == 1


def test_a_ranking_moved_into_a_round_ranked_already_comes_after_those_rankings(
    admin_client,
    programme,
):
    event, rounds, a, b = programme
    Event.objects.filter(pk=event.pk).update(
        allocation_mode=Event.AllocationMode.PREFERENCE,
        preferences_close_at=timezone.now() + datetime.timedelta(days=1),
    )
    event.refresh_from_db()
    anna = services.register_preferences(
        event,
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
        preferences={rounds[0].pk: [a.pk], rounds[1].pk: [b.pk]},
    ).registration

    page = edit_session_of(admin_client, a, move(a, rounds[1]))
    assert confirm(admin_client, page).status_code == 302

    assert sorted(
        Preference.objects.filter(registration=anna).values_list("offering_id", "round_id", "rank")
    ) == sorted([(b.pk, rounds[1].pk, 1), (a.pk, rounds[1].pk, 2)])
