"""Programme changes after people registered: nobody loses a place silently."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from events.models import SessionOffering
from registrations import services
from registrations.models import HistoryEntry, Registration, SessionChoice, Status
from tests.events.test_admin_bad_input import change_form_data
from tests.factories import (
    EventFactory,
    RoundFactory,
    SessionFactory,
    SessionOfferingFactory,
    person,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme():
    """Three rounds; session A in round 1, session B in round 2, round 3 still empty."""
    event = EventFactory(capacity=100)
    rounds = [
        RoundFactory(
            event=event,
            title=f"Ronde {number}",
            starts_at=datetime.time(13 + number),
            ends_at=datetime.time(13 + number, 45),
            order=number,
        )
        for number in (1, 2, 3)
    ]
    a = SessionOfferingFactory(
        session=SessionFactory(event=event, title="Sessie A"), round=rounds[0], capacity=10
    )
    b = SessionOfferingFactory(
        session=SessionFactory(event=event, title="Sessie B"), round=rounds[1], capacity=10
    )
    return event, rounds, a, b


def book(event, number, offerings):
    return services.register_attendee(
        event, person=person(number), offering_ids=[offering.pk for offering in offerings]
    ).registration


def offering_row(page, offering):
    """The prefix of `offering`'s row in the event change form's offering inline."""
    for inline in page.context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            if isinstance(form.instance, SessionOffering) and form.instance.pk == offering.pk:
                return form.prefix
    raise AssertionError("offering not on the page")


def test_offering_moved_in_the_event_admin_keeps_its_people_on_their_page(
    admin_client, client, programme
):
    event, rounds, a, _b = programme
    anna = book(event, 1, [a])
    url = reverse("admin:events_event_change", args=[event.pk])
    page = admin_client.get(url)
    data = change_form_data(page)
    data[f"{offering_row(page, a)}-round"] = str(rounds[2].pk)

    admin_client.post(url, data)
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


def test_inline_delete_of_a_booked_session_or_offering_shows_the_form_with_the_reason(
    admin_client, programme
):
    event, _rounds, a, _b = programme
    book(event, 1, [a])
    url = reverse("admin:events_event_change", args=[event.pk])
    page = admin_client.get(url)
    session_prefix = next(
        form.prefix
        for inline in page.context["inline_admin_formsets"]
        for form in inline.formset.forms
        if form.instance.pk == a.session_id and form.instance._meta.model_name == "session"
    )

    for prefix in (session_prefix, offering_row(page, a)):
        response = admin_client.post(url, delete_row(change_form_data(page), prefix))

        assert response.status_code == 200
        assert "kan niet worden verwijderd" in response.content.decode()
        assert "beschermde" not in response.content.decode()  # Django's generic text
    assert SessionOffering.objects.filter(pk=a.pk).exists()


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
