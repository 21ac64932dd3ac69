import pytest
from django.contrib.auth.models import Permission, User

from registrations.services import Person
from tests.factories import build_programme


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
