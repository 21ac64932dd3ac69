"""Programme changes after people registered: nobody loses a place silently."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from events.models import SessionOffering
from registrations import services
from registrations.models import (
    HistoryEntry,
    QueuedEmail,
    Registration,
    SessionChoice,
    Status,
)
from tests.events.test_admin_bad_input import change_form_data
from tests.factories import (
    SessionFactory,
    SessionOfferingFactory,
    person,
)

pytestmark = pytest.mark.django_db


def book(event, number, offerings):
    return services.register_attendee(
        event, person=person(number), offering_ids=[offering.pk for offering in offerings]
    ).registration


def offering_row(page, offering):
    """The prefix of `offering`'s row in a change form's offering inline."""
    for inline in page.context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            if isinstance(form.instance, SessionOffering) and form.instance.pk == offering.pk:
                return form.prefix
    raise AssertionError("offering not on the page")


def test_offering_moved_on_the_session_page_keeps_its_people_on_their_page(
    admin_client, client, programme
):
    event, rounds, a, _b = programme
    anna = book(event, 1, [a])
    url = reverse("admin:events_session_change", args=[a.session_id])
    page = admin_client.get(url)
    data = change_form_data(page)
    data[f"{offering_row(page, a)}-round"] = str(rounds[2].pk)

    confirm(admin_client, admin_client.post(url, data))
    # Saved again, as the organiser did: nothing may change for Anna.
    saved_again = admin_client.post(url, change_form_data(admin_client.get(url)))

    assert saved_again.status_code == 302
    choice = SessionChoice.objects.get(registration=anna)
    assert (choice.offering_id, choice.round_id, choice.status) == (
        a.pk,
        rounds[2].pk,
        Status.CONFIRMED,
    )
    manage = client.get(anna.get_absolute_url())
    form = manage.context["form"]
    assert form[f"round_{rounds[2].pk}"].value() == str(a.pk)
    assert form[f"round_{rounds[0].pk}"].value() == "0"
    # Her page saved as shown keeps the session.
    client.post(anna.get_absolute_url(), {name: form[name].value() for name in form.fields})
    choice.refresh_from_db()
    assert (choice.offering_id, choice.status) == (a.pk, Status.CONFIRMED)


def test_a_move_that_would_give_someone_two_sessions_in_a_round_is_refused(programme):
    event, rounds, a, b = programme
    anna = book(event, 1, [a, b])
    a.round = rounds[1]

    with pytest.raises(ValidationError):
        a.save()

    assert sorted(
        SessionChoice.objects.filter(registration=anna).values_list("offering_id", "status")
    ) == sorted([(a.pk, Status.CONFIRMED), (b.pk, Status.CONFIRMED)])
    assert SessionOffering.objects.get(pk=a.pk).round_id == rounds[0].pk


def round_row(page, round_):
    """The prefix of `round_`'s row in the event change form's round inline."""
    return next(
        form.prefix
        for inline in page.context["inline_admin_formsets"]
        for form in inline.formset.forms
        if form.instance._meta.model_name == "round" and form.instance.pk == round_.pk
    )


def shown_messages(response):
    from django.contrib.messages import get_messages

    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("model_name", ["session", "sessionoffering", "round"])
def test_deleting_what_people_booked_is_refused_with_a_message(admin_client, programme, model_name):
    event, rounds, a, _b = programme
    book(event, 1, [a])
    obj = {"session": a.session, "sessionoffering": a, "round": rounds[0]}[model_name]
    url = reverse(f"admin:events_{model_name}_delete", args=[obj.pk])

    page = admin_client.get(url, follow=True)
    posted = admin_client.post(url, {"post": "yes"}, follow=True)

    for response in (page, posted):
        assert response.redirect_chain[-1][0] == reverse(
            f"admin:events_{model_name}_change", args=[obj.pk]
        )
        assert "protected" not in response.content.decode().lower()
        [message] = shown_messages(response)
        assert "kan niet worden verwijderd" in message
        assert "Annuleer" in message
    assert type(obj).objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("model_name", ["session", "sessionoffering", "round"])
def test_bulk_delete_of_booked_programme_parts_is_refused(admin_client, programme, model_name):
    event, rounds, a, b = programme
    book(event, 1, [a])
    booked = {"session": a.session, "sessionoffering": a, "round": rounds[0]}[model_name]
    free = {"session": b.session, "sessionoffering": b, "round": rounds[1]}[model_name]
    changelist = reverse(f"admin:events_{model_name}_changelist")

    response = admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [booked.pk, free.pk], "post": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert "protected" not in response.content.decode().lower()
    assert any("kan niet worden verwijderd" in message for message in shown_messages(response))
    assert type(booked).objects.filter(pk__in=[booked.pk, free.pk]).count() == 2


def test_unbooked_programme_parts_can_still_be_deleted(admin_client, programme):
    _event, _rounds, _a, b = programme
    changelist = reverse("admin:events_session_changelist")

    admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [b.session.pk], "post": "yes"},
    )

    assert not SessionOffering.objects.filter(pk=b.pk).exists()


def delete_row(data, prefix):
    data[f"{prefix}-DELETE"] = "on"
    return data


def test_inline_delete_of_a_booked_offering_shows_the_session_form_with_the_reason(
    admin_client, programme
):
    event, _rounds, a, _b = programme
    book(event, 1, [a])
    url = reverse("admin:events_session_change", args=[a.session_id])
    page = admin_client.get(url)

    response = admin_client.post(url, delete_row(change_form_data(page), offering_row(page, a)))

    assert response.status_code == 200
    assert "kan niet worden verwijderd" in response.content.decode()
    assert "beschermde" not in response.content.decode()  # Django's generic text
    assert SessionOffering.objects.filter(pk=a.pk, cancelled_at=None).exists()


def history(registration):
    return [
        (entry.source, entry.action, entry.offering_id, entry.status)
        for entry in HistoryEntry.objects.filter(registration=registration)
    ]


def test_history_records_participant_organiser_and_promotion(admin_client, client, programme):
    event, _rounds, a, b = programme
    SessionOffering.objects.filter(pk=b.pk).update(capacity=1)
    anna = book(event, 1, [b])
    bert = book(event, 2, [a, b])  # waits for B
    changelist = reverse("admin:registrations_registration_changelist")

    admin_client.post(changelist, {"action": "cancel_registrations", "_selected_action": [anna.pk]})

    P, ORG, PROMO = (
        HistoryEntry.Source.PARTICIPANT,
        HistoryEntry.Source.ORGANISER,
        HistoryEntry.Source.PROMOTION,
    )
    A = HistoryEntry.Action
    assert history(anna) == [
        (P, A.REGISTERED, None, Status.CONFIRMED),
        (P, A.CHOSEN, b.pk, Status.CONFIRMED),
        (ORG, A.CANCELLED, None, Status.CANCELLED),
    ]
    assert history(bert)[-1] == (PROMO, A.CONFIRMED, b.pk, Status.CONFIRMED)
    assert HistoryEntry.objects.filter(registration=anna, actor__username="admin").exists()
    page = admin_client.get(reverse("admin:registrations_registration_change", args=[anna.pk]))
    html = page.content.decode()
    assert "Geschiedenis van deze aanmelding" in html
    assert "<td>organisator</td><td>aanmelding geannuleerd: geannuleerd</td><td>admin</td>" in html


def test_history_survives_anonymisation_without_personal_data(programme):
    from registrations.services.anonymisation import anonymise

    event, _rounds, a, _b = programme
    anna = book(event, 1, [a])
    services.cancel_registration(anna)
    before = history(anna)

    anonymise(Registration.objects.filter(pk=anna.pk))

    assert history(anna) == before
    texts = " ".join(str(entry) for entry in HistoryEntry.objects.filter(registration=anna))
    assert "P1" not in texts and "p1@example.nl" not in texts


def confirm(admin_client, page, **decisions):
    """Post the consequences page as the organiser confirms it, with `decisions`."""
    data = {}
    for name, value in page.context["kept"]:
        data.setdefault(name, []).append(value)
    data[page.context["confirmed_field"]] = "1"
    data.update({f"_decide_{name}": value for name, value in decisions.items()})
    return admin_client.post(page.context["back_url"], data)


def programme_emails(registration=None):
    emails = QueuedEmail.objects.filter(kind=QueuedEmail.Kind.PROGRAMME_CHANGE)
    return emails.filter(registration=registration) if registration else emails


def edit_page(admin_client, url, edit):
    page = admin_client.get(url)
    data = change_form_data(page)
    edit(page, data)
    return admin_client.post(url, data)


def edit_event(admin_client, event, edit):
    """Edit the event's own fields, its blocks or its rounds on the event's change page."""
    return edit_page(admin_client, reverse("admin:events_event_change", args=[event.pk]), edit)


def edit_session_of(admin_client, offering, edit):
    """Edit `offering` in the offering rows of its session's change page."""
    url = reverse("admin:events_session_change", args=[offering.session_id])
    return edit_page(admin_client, url, edit)


def test_moving_a_booked_offering_shows_the_consequences_first_then_moves_and_tells(
    admin_client, programme
):
    event, rounds, a, b = programme
    anna = book(event, 1, [a, b])  # A in round 1, B in round 2
    bert = book(event, 2, [a])

    def move_a_to_round_2(page, data):
        data[f"{offering_row(page, a)}-round"] = str(rounds[1].pk)

    page = edit_session_of(admin_client, a, move_a_to_round_2)

    assert page.status_code == 200
    assert page.templates[0].name == "admin/programme_change/consequences.html"
    html = page.content.decode()
    assert "2 bevestigde deelnemers" in html
    assert "Twee sessies in één ronde" in html and "P1" in html
    assert SessionOffering.objects.get(pk=a.pk).round_id == rounds[0].pk  # nothing saved
    assert not programme_emails().exists()

    done = confirm(admin_client, page, conflict_rule="keep_moved")

    assert done.status_code == 302
    assert SessionOffering.objects.get(pk=a.pk).round_id == rounds[1].pk
    assert sorted(
        SessionChoice.objects.filter(registration=anna).values_list("offering_id", "status")
    ) == sorted([(a.pk, Status.CONFIRMED), (b.pk, Status.CANCELLED)])
    assert SessionChoice.objects.get(registration=bert).status == Status.CONFIRMED
    assert programme_emails(anna).count() == 1 and programme_emails(bert).count() == 1
    kinds = [item["kind"] for item in programme_emails(anna).get().details["items"]]
    assert kinds == ["moved", "dropped"]
    assert HistoryEntry.objects.filter(
        registration=bert, action=HistoryEntry.Action.MOVED, source=HistoryEntry.Source.PROGRAMME
    ).exists()


def test_per_person_decision_keeps_the_other_session(admin_client, programme):
    event, rounds, a, b = programme
    anna = book(event, 1, [a, b])

    def move(page, data):
        data[f"{offering_row(page, a)}-round"] = str(rounds[1].pk)

    page = edit_session_of(admin_client, a, move)
    confirm(admin_client, page, conflict_rule="keep_moved", **{f"conflict_{anna.pk}": "keep_other"})

    assert sorted(
        SessionChoice.objects.filter(registration=anna).values_list("offering_id", "status")
    ) == sorted([(a.pk, Status.CANCELLED), (b.pk, Status.CONFIRMED)])


@pytest.mark.parametrize("rule", ["overflow", "waiting"])
def test_lowering_seats_below_the_confirmed_number_is_handled_as_chosen(
    admin_client, programme, rule
):
    event, _rounds, a, _b = programme
    people = [book(event, number, [a]) for number in range(1, 5)]
    waiting_before = book(event, 9, [])  # no session: not affected
    SessionOffering.objects.filter(pk=a.pk).update(capacity=4)
    late = services.change_choices(waiting_before, offering_ids=[a.pk]).registration  # waits

    def cut_seats(page, data):
        data[f"{offering_row(page, a)}-capacity"] = "2"

    page = edit_session_of(admin_client, a, cut_seats)
    assert "Meer mensen dan plaatsen" in page.content.decode()
    confirm(admin_client, page, **{f"capacity_{a.pk}": rule})

    statuses = {
        choice.registration_id: choice.status
        for choice in SessionChoice.objects.filter(offering=a).exclude(status=Status.CANCELLED)
    }
    queue = list(
        SessionChoice.objects.waiting().filter(offering=a).values_list("registration_id", flat=True)
    )
    if rule == "overflow":
        assert [statuses[p.pk] for p in people] == [Status.CONFIRMED] * 4
        assert queue == [late.pk]
        assert not programme_emails().exists()  # nothing changed for anyone
    else:
        assert [statuses[p.pk] for p in people] == [Status.CONFIRMED] * 2 + [Status.WAITING] * 2
        assert queue == [people[2].pk, people[3].pk, late.pk]
        assert sorted(programme_emails().values_list("registration_id", flat=True)) == [
            people[2].pk,
            people[3].pk,
        ]


def test_a_new_round_time_tells_that_rounds_people_with_an_updated_calendar_entry(
    admin_client, programme, mailoutbox, settings
):
    settings.EMAIL_DELIVERY = "queue"
    event, rounds, a, b = programme
    anna = book(event, 1, [a])
    bert = book(event, 2, [b])

    def later(page, data):
        data[f"{round_row(page, rounds[0])}-starts_at"] = "14:15"

    page = edit_event(admin_client, event, later)
    assert "Ronde 1 vindt nu plaats" in page.content.decode()
    confirm(admin_client, page, note="Sorry voor de wijziging.")

    assert [e.registration_id for e in programme_emails()] == [anna.pk]
    assert bert.pk not in set(programme_emails().values_list("registration_id", flat=True))
    from registrations.emails import send_queued

    mailoutbox.clear()
    send_queued()
    [message] = [m for m in mailoutbox if m.subject.startswith("Programmawijziging")]
    assert message.to == [anna.email]
    assert "Ronde 1 vindt nu plaats" in message.body
    assert "Sorry voor de wijziging." in message.body
    ics = message.attachments[0][1]
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert f"UID:event-{event.pk}@" in ics
    assert "SEQUENCE:1" in ics


def test_a_new_event_date_tells_everyone_registered(admin_client, programme):
    event, _rounds, a, _b = programme
    people = [book(event, 1, [a]), book(event, 2, [])]

    def next_day(page, data):
        data["start_date"] = (event.start_date + datetime.timedelta(days=1)).strftime("%d-%m-%Y")

    page = edit_event(admin_client, event, next_day)
    assert page.status_code == 200
    confirm(admin_client, page)

    assert sorted(programme_emails().values_list("registration_id", flat=True)) == [
        p.pk for p in people
    ]
    event.refresh_from_db()
    assert event.calendar_sequence == 1


def test_cancelling_an_offering_releases_its_people_and_invites_them_to_choose_again(
    admin_client, client, programme
):
    event, rounds, a, _b = programme
    c = SessionOfferingFactory(
        session=SessionFactory(event=event, title="Sessie C"), round=rounds[0], capacity=1
    )
    SessionOffering.objects.filter(pk=a.pk).update(capacity=1)
    anna, bert = book(event, 1, [a]), book(event, 2, [a])  # Bert waits for A
    carl, dora = book(event, 3, [c]), book(event, 4, [c])  # Dora waits for C
    url = reverse("admin:events_sessionoffering_cancel", args=[a.pk])

    page = admin_client.get(url)
    assert "1 bevestigde deelnemer" in page.content.decode()
    assert SessionOffering.objects.get(pk=a.pk).cancelled_at is None
    admin_client.post(url, {page.context["confirmed_field"]: "1"})

    assert SessionOffering.objects.get(pk=a.pk).cancelled_at is not None
    assert not SessionChoice.objects.active().filter(offering=a).exists()
    assert dict(SessionChoice.objects.active().values_list("registration_id", "status")) == {
        carl.pk: Status.CONFIRMED,
        dora.pk: Status.WAITING,
    }  # C's queue is not passed
    assert sorted(programme_emails().values_list("registration_id", flat=True)) == [
        anna.pk,
        bert.pk,
    ]
    form = client.get(reverse("registrations:create", args=[event.slug])).content.decode()
    assert "Sessie A" not in form and "Sessie C" in form


def test_cancel_page_is_for_organisers_only(client, django_user_model, programme):
    _event, _rounds, a, _b = programme
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)

    response = client.get(reverse("admin:events_sessionoffering_cancel", args=[a.pk]))

    assert response.status_code == 403


def act(admin_client, registration, **data):
    url = reverse("admin:registrations_registration_choices", args=[registration.pk])
    return admin_client.post(url, data, follow=True)


def test_organiser_moves_one_choice_respecting_or_ignoring_capacity(admin_client, programme):
    event, rounds, a, _b = programme
    c = SessionOfferingFactory(
        session=SessionFactory(event=event, title="Sessie C"), round=rounds[0], capacity=1
    )
    book(event, 1, [c])
    anna, bert = book(event, 2, [a]), book(event, 3, [a])
    SessionOffering.objects.filter(pk=a.pk).update(capacity=1)  # both keep their seat
    waiting = book(event, 4, [a])  # waits for A

    page = admin_client.get(reverse("admin:registrations_registration_choices", args=[anna.pk]))
    assert "Sessie C" in page.content.decode()
    choice = SessionChoice.objects.get(registration=anna)
    act(admin_client, anna, action="move_choice", choice=choice.pk, offering=c.pk)
    assert SessionChoice.objects.active().get(registration=anna).status == Status.WAITING

    moved = SessionChoice.objects.active().get(registration=bert)
    act(
        admin_client,
        bert,
        action="move_choice",
        choice=moved.pk,
        offering=c.pk,
        ignore_capacity="1",
    )
    assert SessionChoice.objects.active().get(registration=bert).status == Status.CONFIRMED
    # A's freed seats went to the person waiting, as after a cancellation.
    assert SessionChoice.objects.active().get(registration=waiting).status == Status.CONFIRMED
    assert QueuedEmail.objects.filter(registration=waiting, kind="promotion").count() == 1
    assert QueuedEmail.objects.filter(registration=bert, kind="changed").count() == 1
    assert HistoryEntry.objects.filter(
        registration=bert, action=HistoryEntry.Action.MOVED, source=HistoryEntry.Source.ORGANISER
    ).exists()


def test_organiser_cancels_one_choice_or_the_registration_and_moves_someone_up(
    admin_client, one_seat_event
):
    event, offering = one_seat_event
    anna, bert = book(event, 1, [offering]), book(event, 2, [offering])
    Registration.objects.filter(pk=bert.pk).update(status=Status.WAITING)

    act(admin_client, anna, action="cancel_choice", choice=anna.choices.get().pk)
    assert anna.choices.get().status == Status.CANCELLED
    act(admin_client, bert, action="move_up")
    bert.refresh_from_db()
    assert bert.status == Status.CONFIRMED
    assert bert.choices.get().status == Status.CONFIRMED
    act(admin_client, anna, action="cancel_registration")
    anna.refresh_from_db()
    assert anna.status == Status.CANCELLED


def test_acting_on_one_person_needs_the_change_permission(client, organiser, programme):
    event, _rounds, a, _b = programme
    anna = book(event, 1, [a])
    client.force_login(organiser)  # may view registrations, not change them

    response = act(client, anna, action="cancel_registration")

    assert response.status_code == 403
    anna.refresh_from_db()
    assert anna.status == Status.CONFIRMED


def test_a_cancellation_removes_the_calendar_entry(programme, mailoutbox):
    from registrations.emails import send_queued

    event, _rounds, a, _b = programme
    anna = book(event, 1, [a])
    services.cancel_registration(anna)

    send_queued(list(QueuedEmail.objects.filter(kind="cancellation").values_list("pk", flat=True)))

    [message] = mailoutbox
    [(name, ics, _type)] = message.attachments
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics
    assert f"UID:event-{event.pk}@" in ics


def test_session_leaders_and_moderators_of_an_affected_offering_are_told(
    admin_client, programme, django_user_model, mailoutbox, django_capture_on_commit_callbacks
):
    event, _rounds, a, b = programme
    book(event, 1, [a])
    leader = django_user_model.objects.create_user("leider", "leider@example.nl", "x")
    other = django_user_model.objects.create_user("ander", "ander@example.nl", "x")
    a.moderators.add(leader)
    b.moderators.add(other)

    def new_room(page, data):
        data[f"{offering_row(page, a)}-location"] = "Zaal 2"

    page = edit_session_of(admin_client, a, new_room)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        confirm(admin_client, page, note="Zaal 1 is te klein.")

    staff_mail = [m for m in mailoutbox if m.to in (["leider@example.nl"], ["ander@example.nl"])]
    assert [m.to for m in staff_mail] == [["leider@example.nl"]]
    assert "Zaal 2" in staff_mail[0].body and "Zaal 1 is te klein." in staff_mail[0].body


@pytest.mark.parametrize("model_name", ["sessionoffering", "round"])
def test_the_offering_and_round_pages_show_the_consequences_too(
    admin_client, programme, model_name
):
    event, rounds, a, _b = programme
    anna = book(event, 1, [a])
    obj = {"sessionoffering": a, "round": rounds[0]}[model_name]
    url = reverse(f"admin:events_{model_name}_change", args=[obj.pk])
    page = admin_client.get(url)
    data = change_form_data(page)
    data.update(
        {"sessionoffering": {"location": "Zaal 9"}, "round": {"starts_at": "14:30"}}[model_name]
    )

    shown = admin_client.post(url, data)

    assert shown.templates[0].name == "admin/programme_change/consequences.html"
    assert not programme_emails().exists()
    assert confirm(admin_client, shown).status_code == 302
    assert list(programme_emails().values_list("registration_id", flat=True)) == [anna.pk]


def test_cancelling_a_session_cancels_each_of_its_offerings(admin_client, programme):
    event, rounds, a, _b = programme
    second = SessionOfferingFactory(session=a.session, event=event, round=rounds[2])
    anna, bert = book(event, 1, [a]), book(event, 2, [second])
    change = admin_client.get(reverse("admin:events_session_change", args=[a.session_id]))
    url = reverse("admin:events_session_cancel", args=[a.session_id])
    assert url in change.content.decode()  # "Annuleren…" on the session's page

    admin_client.post(url, {"_programme_change_confirmed": "1"})

    assert SessionOffering.objects.current().filter(session=a.session).count() == 0
    assert not SessionChoice.objects.active().filter(registration__in=[anna, bert]).exists()
    assert programme_emails().count() == 2
