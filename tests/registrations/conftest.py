import datetime

import pytest
from django.contrib.auth.models import Permission, User

from registrations.services import Person
from tests.factories import (
    EventFactory,
    RoundFactory,
    SessionFactory,
    SessionOfferingFactory,
    build_programme,
)


@pytest.fixture
def event(db):
    """An open event: two rounds, three sessions each offered in both, 12 seats each."""
    return build_programme(sessions=3, rounds=2, capacity=100)


@pytest.fixture
def organiser(db):
    """Staff allowed to see every registration: the organisers' pages."""
    user = User.objects.create_user("organisator", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_registration"))
    return user


@pytest.fixture
def person_factory():
    counter = iter(range(10_000))

    def make(**overrides):
        number = next(counter)
        data = {
            "name": f"Deelnemer {number}",
            "email": f"deelnemer{number}@example.nl",
            "role": "resident",
            "organisation": "Buurtvereniging",
        }
        data.update(overrides)
        return Person(**data)

    return make


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
