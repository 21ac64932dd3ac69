"""Bookings follow their offering (registrations/bookings.py), whoever saves it."""

import pytest
from django.core.exceptions import ValidationError

from registrations import services
from registrations.models import SessionChoice
from tests.factories import RoundFactory, build_programme, offerings_by_round, person

pytestmark = pytest.mark.django_db


def test_an_offering_moved_in_code_takes_its_choices_along():
    event = build_programme(sessions=2, rounds=1, capacity=50)
    [[first, _second]] = offerings_by_round(event)
    services.register_attendee(event, person=person(1), offering_ids=[first.pk])
    later = RoundFactory(event=event, title="Ronde 2", starts_at="16:00", ends_at="16:45")

    first.round = later
    first.save()

    [choice] = SessionChoice.objects.all()
    assert (choice.round_id, choice.offering_id) == (later.pk, first.pk)


def test_a_move_that_would_give_someone_two_sessions_in_a_round_saves_nothing():
    event = build_programme(sessions=2, rounds=2, capacity=50)
    [[a, b], [_c, d]] = offerings_by_round(event)
    b.delete()  # session B runs in round 2 only
    services.register_attendee(event, person=person(1), offering_ids=[a.pk, d.pk])
    second_round = d.round_id

    d.round = a.round  # into the round where they hold `a`
    with pytest.raises(ValidationError):
        d.save()

    d.refresh_from_db()
    assert d.round_id == second_round  # the offering's own save was rolled back too
    assert SessionChoice.objects.filter(offering=d, round_id=second_round).exists()
