import pytest
from django.contrib.auth.models import Group

from registrations import services
from registrations.models import AllocationRun, Mailing
from tests.factories import SeriesFactory, build_programme


@pytest.fixture
def programme(db):
    """An event with a row for every model the admin lists, a registration included."""
    event = build_programme(sessions=3, rounds=2, series=SeriesFactory())
    event.organisers.add(event.roles.first().speaker.organisation)
    Group.objects.create(name="Organisatoren")
    services.register_attendee(
        event,
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
        offering_ids=[event.offerings.first().pk],
    )
    Mailing.objects.create(event=event, subject="Praktische informatie", body="Tot dan!")
    AllocationRun.objects.create(event=event, seed=42, summary={"rounds": {}, "fill": {}})
    return event
