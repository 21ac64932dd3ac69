"""Organisers' work on whole events: copying one as next year's draft."""

import datetime
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from . import page_scopes
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

# 52 weeks keeps the weekday and lands one or two days before the same calendar date
# (364 days against 365 or 366); 53 weeks would land five or six days after it.
NEXT_YEAR = datetime.timedelta(weeks=52)
PROPOSED = object()  # copy_as_draft(): the window as propose_copy() moves it
YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")


@dataclass
class CopyProposal:
    """What the copy form offers before anything is saved."""

    start_date: datetime.date
    title: str
    slug: str
    registration_opens_at: datetime.datetime | None
    registration_closes_at: datetime.datetime | None


def next_year_date(day):
    """The same weekday in the same week of next year: 52 weeks later (see NEXT_YEAR)."""
    return day + NEXT_YEAR


def with_next_years(text, years):
    """`text` with every year in it moved on by `years` ("Dag 2021" -> "Dag 2022")."""
    return YEAR.sub(lambda match: str(int(match.group()) + years), text)


def propose_copy(event, start_date=None):
    """Date, title, web address and registration window proposed for next year's copy."""
    start_date = start_date or next_year_date(event.start_date)
    years = start_date.year - event.start_date.year
    shift = start_date - event.start_date
    title = with_next_years(event.title, years)
    if YEAR.search(event.slug):
        slug = with_next_years(event.slug, years)
    else:
        slug = f"{event.slug[:190]}-{start_date.year}"
    return CopyProposal(
        start_date=start_date,
        title=title,
        slug=_unique_slug(Event, slug),
        registration_opens_at=_shifted(event.registration_opens_at, shift),
        registration_closes_at=_shifted(event.registration_closes_at, shift),
    )


def check_registration_window(start_date, start_time, opens_at, closes_at):
    """ValidationError (per field, in Dutch) for a window that does not fit the new date."""
    starts = timezone.make_aware(
        datetime.datetime.combine(start_date, start_time or datetime.time.min)
    )
    errors = {}
    if closes_at and closes_at > starts:
        errors["registration_closes_at"] = ValidationError(
            _(
                "Registration would close after the event starts (%(starts)s). "
                "Choose a moment before the start."
            ),
            code="closes_after_start",
            params={"starts": timezone.localtime(starts).strftime("%d-%m-%Y %H:%M")},
        )
    if opens_at and closes_at and closes_at <= opens_at:
        errors["registration_closes_at"] = ValidationError(
            _("Registration must close after it opens."), code="closes_before_opening"
        )
    if opens_at and opens_at >= starts:
        errors["registration_opens_at"] = ValidationError(
            _("Registration would open only after the event starts."), code="opens_after_start"
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def copy_as_draft(
    event: Event,
    *,
    start_date: datetime.date | None = None,
    slug: str | None = None,
    title: str | None = None,
    registration_opens_at=PROPOSED,
    registration_closes_at=PROPOSED,
    check_window=True,
) -> Event:
    """Copy the event with everything the organiser entered, unpublished.

    Dates, the preference deadline and seat reservations move with the start date (by
    default next_year_date()); the registration window too, unless given (None: no
    window). Title and web
    address get the new year instead of the old one. Registrations are never copied.
    A window that closes after the event starts is refused (ValidationError), unless
    `check_window` is False.
    """
    proposal = propose_copy(event, start_date)
    shift = proposal.start_date - event.start_date
    source = Event.objects.prefetch_related(
        "organiser_links",
        "moderators",
        "programme_blocks",
        "roles",
        "rounds",
        "sessions__roles",
        "offerings__moderators",
        "seat_reservations",
    ).get(pk=event.pk)
    opens_at, closes_at = registration_opens_at, registration_closes_at
    if opens_at is PROPOSED:
        opens_at = proposal.registration_opens_at
    if closes_at is PROPOSED:
        closes_at = proposal.registration_closes_at
    if check_window:
        check_registration_window(proposal.start_date, event.start_time, opens_at, closes_at)

    copy = Event.objects.get(pk=event.pk)
    copy.pk = copy.id = None
    copy._state.adding = True
    copy.title = title or proposal.title
    copy.slug = slug or proposal.slug
    copy.start_date = proposal.start_date
    copy.end_date = _shifted(event.end_date, shift)
    copy.registration_opens_at = opens_at
    copy.registration_closes_at = closes_at
    copy.preferences_close_at = _shifted(copy.preferences_close_at, shift)
    copy.allocated_at = None
    copy.is_published = False
    copy.save()
    EventOrganiser.objects.bulk_create(
        EventOrganiser(
            event=copy, organisation_id=link.organisation_id, role=link.role, order=link.order
        )
        for link in source.organiser_links.all()
    )
    copy.moderators.set(source.moderators.all())

    ProgrammeBlock.objects.bulk_create(
        ProgrammeBlock(
            event=copy,
            day=_shifted(block.day, shift),
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
            affiliation=role.affiliation,
            order=role.order,
        )
        for role in source.roles.all()
    )
    old_rounds = list(source.rounds.all())
    new_rounds = Round.objects.bulk_create(
        Round(
            event=copy,
            title=old_round.title,
            day=_shifted(old_round.day, shift),
            starts_at=old_round.starts_at,
            ends_at=old_round.ends_at,
            description=old_round.description,
            location=old_round.location,
            order=old_round.order,
        )
        for old_round in old_rounds
    )
    round_map = {old.pk: new for old, new in zip(old_rounds, new_rounds, strict=True)}
    old_sessions = list(source.sessions.all())
    new_sessions = Session.objects.bulk_create(
        _copied_fields(old_session, event=copy) for old_session in old_sessions
    )
    session_map = {old.pk: new for old, new in zip(old_sessions, new_sessions, strict=True)}
    SessionRole.objects.bulk_create(
        SessionRole(
            session=session_map[old_session.pk],
            speaker_id=role.speaker_id,
            participant=role.participant,
            role_id=role.role_id,
            affiliation=role.affiliation,
            order=role.order,
        )
        for old_session in old_sessions
        for role in old_session.roles.all()
    )
    old_offerings = list(source.offerings.all())
    new_offerings = SessionOffering.objects.bulk_create(
        SessionOffering(
            event=copy,
            session=session_map[offering.session_id],
            round=round_map[offering.round_id],
            last_round=round_map.get(offering.last_round_id),
            capacity=offering.capacity,
            location=offering.location,
            order=offering.order,
        )
        for offering in old_offerings
    )
    offering_map = {old.pk: new for old, new in zip(old_offerings, new_offerings, strict=True)}
    Moderation = SessionOffering.moderators.through
    Moderation.objects.bulk_create(
        Moderation(sessionoffering_id=offering_map[old.pk].pk, user_id=user.pk)
        for old in old_offerings
        for user in old.moderators.all()
    )
    # Reservations live in the registrations app (imports go registrations -> events).
    reservations = list(source.seat_reservations.all())
    if reservations:
        Reservation = type(reservations[0])
        Reservation.objects.bulk_create(
            Reservation(
                event=copy,
                offering=offering_map[old.offering_id] if old.offering_id else None,
                role=old.role,
                share=old.share,
                released_at=old.released_at + shift,
            )
            for old in reservations
        )
    page_scopes.event_changed(copy.pk)  # bulk_create sends no signals
    return copy


def _copied_fields(session, **overrides):
    """A new Session with the fields the organiser entered on `session`."""
    names = [
        f.name
        for f in Session._meta.concrete_fields
        if not f.primary_key and f.name not in overrides
    ]
    return Session(**{name: getattr(session, name) for name in names}, **overrides)


@dataclass
class CopySummary:
    copied: list = field(default_factory=list)  # (label, number)
    to_check: list = field(default_factory=list)  # sentences


def copy_summary(copy, source):
    """What the copy holds (counted in the database) and what the organiser should check."""
    # One count per relation: counting them in one join would multiply the rows.
    counts = {
        name: getattr(copy, relation).count()
        for name, relation in [
            ("blocks", "programme_blocks"),
            ("rounds", "rounds"),
            ("sessions", "sessions"),
            ("offerings", "offerings"),
            ("event_roles", "roles"),
            ("moderators", "moderators"),
            ("organisers", "organisers"),
            ("reservations", "seat_reservations"),
        ]
    }
    offering_totals = {
        "seats": SessionOffering.objects.filter(event=copy).aggregate(seats=Sum("capacity"))[
            "seats"
        ],
        "offering_moderators": SessionOffering.moderators.through.objects.filter(
            sessionoffering__event=copy
        )
        .values("user")
        .distinct()
        .count(),
    }
    summary = CopySummary()
    summary.copied = [
        (_("programme blocks"), counts["blocks"]),
        (_("rounds"), counts["rounds"]),
        (_("sessions"), counts["sessions"]),
        (_("sessions offered in a round (with their seats and tables)"), counts["offerings"]),
        (_("seats in the sessions together"), offering_totals["seats"] or 0),
        (_("speakers, chairs and other roles at the event"), counts["event_roles"]),
        (_("session leaders and speakers"), _session_role_count(copy)),
        (_("moderators of the event"), counts["moderators"]),
        (_("moderators of sessions"), offering_totals["offering_moderators"]),
        (_("organisers"), counts["organisers"]),
        (_("seat reservations"), counts["reservations"]),
    ]
    check = summary.to_check
    check.append(_("The copy is not published yet: publish it when the programme is final."))
    check.append(
        _("Are the speakers, session leaders and moderators coming again? Their roles were copied.")
    )
    if copy.venue_id:
        check.append(_("Is the venue booked for the new date?"))
    if copy.registration_opens_at or copy.registration_closes_at:
        check.append(_("Check the registration window: it moved with the event."))
    if copy.preferences_close_at:
        check.append(_("Check the preference deadline: it moved with the event."))
    if counts["reservations"]:
        check.append(_("Check the release dates of the seat reservations: they moved too."))
    texts = " ".join(
        [copy.summary, copy.introduction, copy.audience, copy.price_note, copy.more_info_label]
    )
    old_year = str(source.start_date.year)
    if old_year in texts or old_year in copy.more_info_url:
        check.append(
            _("The texts still mention %(year)s: update them for the new year.")
            % {"year": old_year}
        )
    if not YEAR.search(source.slug):
        check.append(_("The old web address had no year, so the year was added to the new one."))
    return summary


def _session_role_count(copy):
    return SessionRole.objects.filter(session__event=copy).count()


def _shifted(value, shift):
    return value + shift if value else None


def _unique_slug(model, base):
    slug, number = base, 2
    while model.objects.filter(slug=slug).exists():
        slug = f"{base}-{number}"
        number += 1
    return slug
