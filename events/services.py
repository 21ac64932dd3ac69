"""Organisers' work on whole events: copying one as next year's draft."""

from datetime import date

from django.db import transaction
from django.utils.text import slugify

from .models import (
    Event,
    EventOrganiser,
    EventRole,
    ProgrammeBlock,
    Round,
    Session,
    SessionOffering,
    SessionRole,
)


@transaction.atomic
def copy_as_draft(
    event: Event, *, start_date: date | None = None, slug: str | None = None
) -> Event:
    """Copy the event with its programme, rounds, sessions and roles, unpublished.

    Dates and the registration window move with the start date (by default one
    year later). Registrations are never copied.
    """
    start_date = start_date or _add_years(event.start_date, 1)
    shift = start_date - event.start_date
    source_pk = event.pk
    source = Event.objects.prefetch_related(
        "organiser_links",
        "programme_blocks",
        "roles",
        "rounds",
        "sessions__roles",
        "offerings",
    ).get(pk=source_pk)

    copy = Event.objects.get(pk=source_pk)
    copy.pk = copy.id = None
    copy._state.adding = True
    copy.start_date = start_date
    copy.end_date = event.end_date + shift if event.end_date else None
    if copy.registration_opens_at:
        copy.registration_opens_at += shift
    if copy.registration_closes_at:
        copy.registration_closes_at += shift
    if copy.preferences_close_at:
        copy.preferences_close_at += shift
    copy.allocated_at = None
    copy.is_published = False
    copy.slug = slug or _unique_slug(Event, f"{slugify(event.title)[:180]}-{start_date.year}")
    copy.save()
    EventOrganiser.objects.bulk_create(
        EventOrganiser(
            event=copy, organisation_id=link.organisation_id, role=link.role, order=link.order
        )
        for link in source.organiser_links.all()
    )

    def shifted_day(day):
        return day + shift if day else None

    ProgrammeBlock.objects.bulk_create(
        ProgrammeBlock(
            event=copy,
            day=shifted_day(block.day),
            starts_at=block.starts_at,
            ends_at=block.ends_at,
            title=block.title,
            kind=block.kind,
            description=block.description,
            location=block.location,
            order=block.order,
        )
        for block in source.programme_blocks.all()
    )
    EventRole.objects.bulk_create(
        EventRole(
            event=copy,
            speaker_id=role.speaker_id,
            participant=role.participant,
            role_id=role.role_id,
            note=role.note,
            order=role.order,
        )
        for role in source.roles.all()
    )
    round_map = {}
    for old_round in source.rounds.all():
        round_map[old_round.pk] = Round.objects.create(
            event=copy,
            title=old_round.title,
            day=shifted_day(old_round.day),
            starts_at=old_round.starts_at,
            ends_at=old_round.ends_at,
            description=old_round.description,
            location=old_round.location,
            order=old_round.order,
        )
    session_map = {}
    for old_session in source.sessions.all():
        new_session = Session.objects.create(
            event=copy,
            title=old_session.title,
            slug=old_session.slug,
            kind_id=old_session.kind_id,
            theme=old_session.theme,
            summary=old_session.summary,
            description=old_session.description,
            order=old_session.order,
        )
        session_map[old_session.pk] = new_session
        SessionRole.objects.bulk_create(
            SessionRole(
                session=new_session,
                speaker_id=role.speaker_id,
                participant=role.participant,
                role_id=role.role_id,
                order=role.order,
            )
            for role in old_session.roles.all()
        )
    SessionOffering.objects.bulk_create(
        SessionOffering(
            event=copy,
            session=session_map[offering.session_id],
            round=round_map[offering.round_id],
            capacity=offering.capacity,
            location=offering.location,
            order=offering.order,
        )
        for offering in source.offerings.all()
    )
    return copy


def _add_years(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _unique_slug(model, base):
    slug, number = base, 2
    while model.objects.filter(slug=slug).exists():
        slug = f"{base}-{number}"
        number += 1
    return slug
