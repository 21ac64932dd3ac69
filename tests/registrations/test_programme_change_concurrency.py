"""A programme change while registrations come in: nobody overbooked, nobody lost."""

import datetime

import pytest

from events.models import SessionOffering
from registrations import services
from registrations.models import Registration, SessionChoice, Status
from registrations.services import programme_changes
from tests.factories import EventFactory, RoundFactory, SessionFactory, SessionOfferingFactory
from tests.registrations.test_concurrency import _rush

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("rush"),
]

CONTENDERS = 30


def test_seats_cut_and_offering_moved_during_a_rush_neither_overbooks_nor_loses_anyone():
    event = EventFactory(capacity=None)
    first, second = (
        RoundFactory(event=event, title=f"Ronde {n}", starts_at=datetime.time(13 + n), order=n)
        for n in (1, 2)
    )
    offering = SessionOfferingFactory(session=SessionFactory(event=event), round=first, capacity=20)

    def work(number):
        if number == 0:  # the organiser: 8 seats instead of 20, and to round 2
            edited = SessionOffering.objects.get(pk=offering.pk)
            edited.capacity, edited.round = 8, second
            programme_changes.change_programme(
                event,
                programme_changes.Decisions(
                    per_overflow={offering.pk: programme_changes.TO_WAITING}
                ),
                offerings=[edited],
            )
            return
        services.register_attendee(
            event,
            person=services.Person(
                name=f"D{number}", email=f"d{number}@example.nl", role="resident"
            ),
            offering_ids=[offering.pk],
        )

    errors = _rush(work, CONTENDERS + 1)

    assert errors == []
    assert Registration.objects.filter(event=event).count() == CONTENDERS
    choices = SessionChoice.objects.filter(offering=offering)
    assert choices.count() == CONTENDERS  # every registration kept its choice
    assert choices.filter(status=Status.CONFIRMED).count() == 8
    assert choices.filter(status=Status.WAITING).count() == CONTENDERS - 8
    assert set(choices.values_list("round_id", flat=True)) == {second.pk}
