import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from events.models import Event, SessionOffering
from events.services import copy_as_draft
from tests.factories import (
    EventFactory,
    EventRoleFactory,
    ProgrammeBlockFactory,
    RoundFactory,
    SeriesFactory,
    SessionFactory,
    SessionOfferingFactory,
    build_programme,
    build_span_programme,
)

pytestmark = pytest.mark.django_db


def _integrity_error(callable_):
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


def test_event_end_date_before_start_date_is_rejected_by_database():
    event = EventFactory(start_date=datetime.date(2026, 5, 2))

    event.end_date = datetime.date(2026, 5, 1)

    _integrity_error(event.save)


def test_event_end_date_before_start_date_message_in_full_clean():
    event = EventFactory.build(
        start_date=datetime.date(2026, 5, 2), end_date=datetime.date(2026, 5, 1), venue=None
    )

    with pytest.raises(ValidationError) as excinfo:
        event.full_clean()

    assert excinfo.value.messages == ["De einddatum kan niet vóór de begindatum liggen."]


def test_event_end_time_before_start_time_is_rejected_on_single_day():
    event = EventFactory(start_time=datetime.time(14, 0), end_time=datetime.time(17, 0))

    event.end_time = datetime.time(13, 0)

    _integrity_error(event.save)


def test_event_end_time_before_start_time_allowed_over_several_days():
    event = EventFactory(
        start_date=datetime.date(2026, 11, 19),
        end_date=datetime.date(2026, 11, 21),
        start_time=datetime.time(10, 0),
        end_time=datetime.time(9, 0),
    )

    event.full_clean()

    assert event.is_multi_day is True


def test_event_registration_closing_before_opening_is_rejected():
    event = EventFactory()
    event.registration_opens_at = timezone.now()

    event.registration_closes_at = event.registration_opens_at - datetime.timedelta(hours=1)

    _integrity_error(event.save)


def test_event_negative_capacity_is_rejected():
    event = EventFactory()

    event.capacity = -1

    _integrity_error(event.save)


def test_event_slug_is_unique():
    EventFactory(slug="dag-van-de-buurt")

    _integrity_error(lambda: EventFactory(slug="dag-van-de-buurt"))


def test_session_slug_is_unique_per_event_only():
    first, second = EventFactory(), EventFactory()
    SessionFactory(event=first, slug="buurtbudgetten")

    SessionFactory(event=second, slug="buurtbudgetten")

    _integrity_error(lambda: SessionFactory(event=first, slug="buurtbudgetten"))


def test_session_offered_twice_in_same_round_is_rejected():
    offering = SessionOfferingFactory()

    _integrity_error(
        lambda: SessionOffering.objects.create(
            event=offering.event, session=offering.session, round=offering.round
        )
    )


def test_session_offered_in_two_rounds_is_allowed():
    offering = SessionOfferingFactory()
    second_round = RoundFactory(event=offering.event, title="Ronde 2")

    SessionOfferingFactory(session=offering.session, event=offering.event, round=second_round)

    assert offering.session.offerings.count() == 2


def test_offering_negative_capacity_is_rejected():
    offering = SessionOfferingFactory()

    offering.capacity = -5

    _integrity_error(offering.save)


def test_offering_round_of_other_event_fails_validation():
    offering = SessionOfferingFactory()
    other_round = RoundFactory()

    offering.round = other_round

    with pytest.raises(ValidationError) as excinfo:
        offering.full_clean()
    assert list(excinfo.value.message_dict) == ["round"]


def test_programme_block_ending_before_start_is_rejected():
    block = ProgrammeBlockFactory(starts_at=datetime.time(14, 0), ends_at=datetime.time(14, 30))

    block.ends_at = datetime.time(13, 0)

    _integrity_error(block.save)


def test_round_titles_are_unique_per_event():
    round_ = RoundFactory(title="Ronde 1")

    _integrity_error(lambda: RoundFactory(event=round_.event, title="Ronde 1"))


def test_upcoming_and_past_split_on_today_including_multi_day_events():
    today = datetime.date(2026, 11, 22)
    past = EventFactory(start_date=datetime.date(2026, 11, 20))
    running = EventFactory(
        start_date=datetime.date(2026, 11, 21), end_date=datetime.date(2026, 11, 23)
    )
    future = EventFactory(start_date=datetime.date(2026, 12, 1))

    upcoming = list(Event.objects.upcoming(today).order_by("start_date"))
    past_events = list(Event.objects.past(today))

    assert upcoming == [running, future]
    assert past_events == [past]


def test_starts_at_is_aware_in_amsterdam_and_none_when_time_unknown():
    event = EventFactory(start_date=datetime.date(2021, 1, 28), start_time=datetime.time(13, 0))
    unknown = EventFactory(time_to_be_confirmed=True)

    assert event.starts_at.isoformat() == "2021-01-28T13:00:00+01:00"
    assert unknown.starts_at is None


def test_timeline_merges_blocks_and_rounds_in_time_order():
    event = EventFactory()
    reception = ProgrammeBlockFactory(
        event=event, starts_at=datetime.time(14, 0), title="Ontvangst"
    )
    first = RoundFactory(event=event, starts_at=datetime.time(15, 0), ends_at=None, title="Ronde 1")
    closing = ProgrammeBlockFactory(
        event=event, starts_at=datetime.time(16, 45), ends_at=None, title="Borrel"
    )
    second = RoundFactory(
        event=event, starts_at=datetime.time(16, 0), ends_at=None, title="Ronde 2"
    )

    timeline = Event.objects.for_programme().get(pk=event.pk).timeline()

    assert timeline == [reception, first, second, closing]


def test_effective_contact_falls_back_to_series():
    series = SeriesFactory(contact_name="José Salhi", contact_phone="(020) 573 36 62")
    event = EventFactory(series=series)

    assert event.effective_contact == series


def test_copy_as_draft_copies_programme_without_publishing():
    event = build_programme(sessions=3, rounds=2, start_date=datetime.date(2026, 1, 28))
    event.registration_opens_at = timezone.make_aware(datetime.datetime(2025, 12, 1, 9, 0))
    event.registration_closes_at = timezone.make_aware(datetime.datetime(2026, 1, 27, 23, 59))
    event.save()
    EventRoleFactory(event=event, role="presenter")

    copy = copy_as_draft(event)

    assert copy.pk != event.pk
    assert copy.is_published is False
    assert copy.start_date == datetime.date(2027, 1, 27)  # 52 weeks: still a Wednesday
    assert copy.registration_closes_at == timezone.make_aware(
        datetime.datetime(2027, 1, 26, 23, 59)
    )
    assert copy.slug == f"{event.slug}-2027"
    assert copy.programme_blocks.count() == 1
    assert list(copy.rounds.values_list("title", flat=True)) == ["Ronde 1", "Ronde 2"]
    assert copy.sessions.count() == 3
    assert copy.offerings.count() == 6
    assert set(copy.offerings.values_list("session__event", "round__event").distinct()) == {
        (copy.pk, copy.pk)
    }
    assert sorted(copy.roles.values_list("speaker", "role")) == sorted(
        event.roles.values_list("speaker", "role")
    )
    assert sorted(copy.sessions.values_list("title", "roles__speaker")) == sorted(
        event.sessions.values_list("title", "roles__speaker")
    )
    # The original is untouched.
    assert event.offerings.count() == 6


def test_copy_of_a_preference_event_moves_its_deadline_and_starts_unallocated():
    event = EventFactory(
        start_date=datetime.date(2026, 3, 1),
        registration_opens_at=timezone.make_aware(datetime.datetime(2026, 1, 1, 9)),
        allocation_mode=Event.AllocationMode.PREFERENCE,
        preferences_close_at=timezone.make_aware(datetime.datetime(2026, 2, 1, 9)),
        allocated_at=timezone.make_aware(datetime.datetime(2026, 2, 2, 9)),
    )

    copy = copy_as_draft(event)

    assert copy.preferences_close_at == timezone.make_aware(datetime.datetime(2027, 1, 31, 9))
    assert copy.allocated_at is None


def test_preference_mode_needs_a_deadline():
    event = EventFactory.build(allocation_mode=Event.AllocationMode.PREFERENCE, venue=None)

    with pytest.raises(ValidationError) as excinfo:
        event.full_clean(exclude=["slug"])

    assert list(excinfo.value.message_dict) == ["preferences_close_at"]


# Sessions across rounds and overlapping times -------------------------------------------


def test_an_offering_across_rounds_runs_from_its_first_start_to_its_last_end():
    event, offerings = build_span_programme()
    excursion, table = offerings["excursion"], offerings["table"]

    assert (excursion.starts_at, excursion.ends_at) == (
        datetime.time(13, 20),
        datetime.time(15, 30),
    )
    assert excursion.rounds_title == "Ronde 1 – Ronde 2"
    assert (table.starts_at, table.ends_at, table.rounds_title) == (
        datetime.time(14, 30),
        datetime.time(15, 30),
        "Ronde 2",
    )
    day = event.start_date
    assert excursion.interval(day) == (
        datetime.datetime.combine(day, datetime.time(13, 20)),
        datetime.datetime.combine(day, datetime.time(15, 30)),
    )


def test_what_clashes_with_what():
    event, offerings = build_span_programme()
    day = event.start_date
    clashes = {
        (first, second)
        for first in offerings
        for second in offerings
        if first < second and offerings[first].clashes_with(offerings[second], day)
    }

    assert clashes == {
        ("excursion", "workshop"),  # the same round
        ("excursion", "table"),  # a round the excursion spans
        ("excursion", "late"),  # times that overlap
        ("late", "table"),  # rounds that overlap
    }
    assert event.clashes()
    assert not build_programme(sessions=1, rounds=3).clashes()


def test_a_span_takes_up_a_round_between_even_without_end_times():
    event = EventFactory()
    first, middle, last = (
        RoundFactory(event=event, starts_at=datetime.time(hour, 0), ends_at=None)
        for hour in (10, 11, 12)
    )
    offering = SessionOfferingFactory(
        session=SessionFactory(event=event), event=event, round=first, last_round=last
    )

    after = RoundFactory(event=event, starts_at=datetime.time(13, 0), ends_at=None)

    assert offering.takes_up(middle, event.start_date)
    assert offering.takes_up(last, event.start_date)
    assert not offering.takes_up(after, event.start_date)


@pytest.mark.parametrize(
    ("day", "starts_at", "other_event"),
    [
        (None, datetime.time(13, 0), False),  # earlier
        (None, datetime.time(13, 20), False),  # the same time
        (datetime.date(2030, 1, 2), datetime.time(15, 0), False),  # another day
        (None, datetime.time(15, 0), True),
    ],
    ids=["earlier", "same start", "other day", "other event"],
)
def test_the_last_round_must_be_a_later_round_of_the_same_event_and_day(
    day, starts_at, other_event
):
    event, offerings = build_span_programme()
    last = RoundFactory(
        event=EventFactory() if other_event else event, day=day, starts_at=starts_at, ends_at=None
    )
    excursion = offerings["excursion"]
    excursion.last_round = last

    with pytest.raises(ValidationError) as error:
        excursion.full_clean()

    assert "last_round" in error.value.message_dict


def test_a_span_is_accepted_in_preference_mode():
    """The lottery keeps the rounds a session across rounds takes up free of other seats."""
    event, offerings = build_span_programme(
        allocation_mode=Event.AllocationMode.PREFERENCE,
        preferences_close_at=timezone.now() + datetime.timedelta(days=7),
    )

    offerings["excursion"].full_clean()
    event.full_clean()


def test_a_copy_keeps_the_span():
    event, _offerings = build_span_programme()

    copy = copy_as_draft(event, start_date=event.start_date + datetime.timedelta(days=365))

    excursion = copy.offerings.get(last_round__isnull=False)
    assert (excursion.round.title, excursion.last_round.title) == ("Ronde 1", "Ronde 2")
    assert excursion.last_round.event == copy
