"""Programme changes after people registered: nobody loses a place silently."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from events.models import SessionOffering
from registrations import services
from registrations.models import SessionChoice, Status
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
