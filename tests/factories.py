import datetime

import factory
from django.utils import timezone

from events.models import (
    Event,
    EventRole,
    ProgrammeBlock,
    Round,
    Series,
    Session,
    SessionOffering,
    SessionRole,
    Venue,
)
from registrations import services
from registrations.models import SeatReservation
from speakers.models import Organisation, Speaker


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Gemeente {n}")
    slug = factory.Sequence(lambda n: f"gemeente-{n}")


class SpeakerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Speaker

    name = factory.Sequence(lambda n: f"Spreker {n}")
    slug = factory.Sequence(lambda n: f"spreker-{n}")
    organisation = factory.SubFactory(OrganisationFactory)
    function = "wijkmanager"
    biography = "Werkt al jaren in de wijk."


class VenueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Venue

    name = factory.Sequence(lambda n: f"Buurthuis {n}")
    city = "Zaandam"


class SeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Series

    title = factory.Sequence(lambda n: f"Reeks {n}")
    slug = factory.Sequence(lambda n: f"reeks-{n}")
    kind_id = "year_programme"
    is_published = True


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    title = factory.Sequence(lambda n: f"Bijeenkomst {n}")
    slug = factory.Sequence(lambda n: f"bijeenkomst-{n}")
    start_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=30))
    start_time = datetime.time(14, 0)
    end_time = datetime.time(17, 0)
    venue = factory.SubFactory(VenueFactory)
    is_published = True
    registration_opens_at = factory.LazyFunction(
        lambda: timezone.now() - datetime.timedelta(days=1)
    )


class ProgrammeBlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgrammeBlock

    event = factory.SubFactory(EventFactory)
    starts_at = datetime.time(14, 0)
    ends_at = datetime.time(14, 30)
    title = "Ontvangst"
    kind = ProgrammeBlock.Kind.RECEPTION


class RoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Round

    event = factory.SubFactory(EventFactory)
    title = factory.Sequence(lambda n: f"Ronde {n}")
    starts_at = datetime.time(15, 0)
    ends_at = datetime.time(15, 45)


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    event = factory.SubFactory(EventFactory)
    title = factory.Sequence(lambda n: f"Tafelsessie {n}")
    slug = factory.Sequence(lambda n: f"tafelsessie-{n}")
    summary = "Korte tekst."
    description = "Lange tekst over de sessie."


class SessionOfferingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionOffering

    session = factory.SubFactory(SessionFactory)
    event = factory.SelfAttribute("session.event")
    round = factory.SubFactory(RoundFactory, event=factory.SelfAttribute("..session.event"))
    capacity = 12


def role_code_as_key(kwargs):
    """Let tests name a role by its code: EventRoleFactory(role="chair")."""
    if isinstance(kwargs.get("role"), str):
        kwargs["role_id"] = kwargs.pop("role")
    return kwargs


class EventRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventRole

    event = factory.SubFactory(EventFactory)
    speaker = factory.SubFactory(SpeakerFactory)
    role_id = EventRole.Role.SPEAKER

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        return role_code_as_key(kwargs)


class SessionRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionRole

    session = factory.SubFactory(SessionFactory)
    speaker = factory.SubFactory(SpeakerFactory)
    role_id = SessionRole.Role.LEADER

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        return role_code_as_key(kwargs)


def build_programme(
    *, sessions=7, rounds=2, speakers_per_session=2, event_speakers=3, **event_kwargs
):
    """An event with a reception, `rounds` rounds and every session offered in each round."""
    event = EventFactory(**event_kwargs)
    ProgrammeBlockFactory(event=event)
    round_list = [
        RoundFactory(
            event=event,
            title=f"Ronde {number}",
            starts_at=datetime.time(14 + number % 8, 0),
            ends_at=datetime.time(14 + number % 8, 45),
            order=number,
        )
        for number in range(1, rounds + 1)
    ]
    for number in range(sessions):
        session = SessionFactory(event=event, order=number)
        for _ in range(speakers_per_session):
            SessionRoleFactory(session=session)
        for round_ in round_list:
            SessionOfferingFactory(session=session, event=event, round=round_)
    for _ in range(event_speakers):
        EventRoleFactory(event=event)
    return event


def offerings_by_round(event):
    """[[round 1 offerings], [round 2 offerings]] in session order."""
    return [
        list(round_.offerings.order_by("session__order"))
        for round_ in event.rounds.order_by("order")
    ]


def registration_form_data(event, **overrides):
    """A valid POST to the registration form: one session in each of the two rounds."""
    first_round, second_round = offerings_by_round(event)
    data = {
        "name": "Anna de Vries",
        "email": "anna@example.nl",
        "organisation": "Gemeente Zaanstad",
        "function": "wijkmanager",
        "role": "civil_servant",
        f"round_{first_round[0].round_id}": str(first_round[0].pk),
        f"round_{second_round[1].round_id}": str(second_round[1].pk),
        "question": "Hoe betrek je jongeren?",
        "consent": "on",
        "website": "",  # the honeypot, left empty as people do
    }
    data.update(overrides)
    return data


def single_offering(capacity):
    """An event of one session in one round, without speakers: its only offering."""
    event = build_programme(sessions=1, rounds=1, speakers_per_session=0, event_speakers=0)
    offering = event.offerings.get()
    offering.capacity = capacity
    offering.save()
    return offering


def reserve_seats(offering, *, role="resident", share=40, days=1):
    """A share of the offering's seats kept for `role` until `days` from now."""
    return SeatReservation.objects.create(
        event=offering.event,
        offering=offering,
        role=role,
        share=share,
        released_at=timezone.now() + datetime.timedelta(days=days),
    )


def person(number, role="resident", name=None):
    """Participant number `number`: P1, p1@example.nl."""
    return services.Person(name=name or f"P{number}", email=f"p{number}@example.nl", role=role)


def build_span_programme(**event_kwargs):
    """An event with a session across two rounds and two rounds that overlap in time.

    Ronde 1 13:20-14:20: "workshop", and "excursion" until the end of Ronde 2 (15:30);
    Ronde 2 14:30-15:30: "table"; Ronde 3 15:00-16:00 (overlaps Ronde 2): "late".
    Returns the event and its offerings by those names.
    """
    event = EventFactory(start_time=datetime.time(13, 0), **event_kwargs)
    first, second, third = (
        RoundFactory(event=event, title=title, starts_at=start, ends_at=end, order=order)
        for order, (title, start, end) in enumerate(
            [
                ("Ronde 1", datetime.time(13, 20), datetime.time(14, 20)),
                ("Ronde 2", datetime.time(14, 30), datetime.time(15, 30)),
                ("Ronde 3", datetime.time(15, 0), datetime.time(16, 0)),
            ]
        )
    )
    offerings = {}
    for name, title, round_, last_round in [
        ("workshop", "Workshop buurtbudget", first, None),
        ("excursion", "Excursie door de wijk", first, second),
        ("table", "Tafel over groen", second, None),
        ("late", "Tafel over wonen", third, None),
    ]:
        session = SessionFactory(event=event, title=title, slug=name)
        offerings[name] = SessionOfferingFactory(
            session=session, event=event, round=round_, last_round=last_round
        )
    return event, offerings
