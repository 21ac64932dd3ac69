import pytest

from registrations.services import Person
from tests.factories import build_programme


@pytest.fixture
def event(db):
    """An open event: two rounds, three sessions each offered in both, 12 seats each."""
    return build_programme(sessions=3, rounds=2, capacity=100)


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
