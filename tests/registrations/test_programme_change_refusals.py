"""A programme change that the bookings refuse shows why on the consequences page, never an
error page, and changes nothing."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from registrations import services
from registrations.models import Preference
from tests.events.test_admin_bad_input import change_form_data
from tests.factories import SessionFactory, SessionOfferingFactory

pytestmark = pytest.mark.django_db


def test_a_move_that_would_lose_a_ranking_is_refused_with_the_reason(admin_client, programme):
    event, rounds, a, b = programme
    Event.objects.filter(pk=event.pk).update(
        allocation_mode=Event.AllocationMode.PREFERENCE,
        preferences_close_at=timezone.now() + datetime.timedelta(days=1),
    )
    event.refresh_from_db()
    c, d = (
        SessionOfferingFactory(
            session=SessionFactory(event=event, title=f"Sessie {name}"),
            round=rounds[1],
            capacity=10,
        )
        for name in "CD"
    )
    anna = services.register_preferences(
        event,
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
        preferences={rounds[0].pk: [a.pk], rounds[1].pk: [b.pk, c.pk, d.pk]},
    ).registration
    before = sorted(Preference.objects.filter(registration=anna).values_list("offering_id", "rank"))
    url = reverse("admin:events_sessionoffering_change", args=[a.pk])
    data = change_form_data(admin_client.get(url))
    data["round"] = str(rounds[1].pk)

    page = admin_client.post(url, data)  # the consequences page first
    kept = {}
    for name, value in page.context["kept"]:
        kept.setdefault(name, []).append(value)
    refused = admin_client.post(
        page.context["back_url"], {**kept, page.context["confirmed_field"]: "1"}
    )

    assert refused.status_code == 200
    assert "al drie sessies gerangschikt" in refused.content.decode()
    a.refresh_from_db()
    assert a.round_id == rounds[0].pk
    after = sorted(Preference.objects.filter(registration=anna).values_list("offering_id", "rank"))
    assert after == before
