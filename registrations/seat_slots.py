"""The seats on public pages: slots filled in per response, so that a registration never
renews a kept page (``sitewide.pagecache``).

A slot's name says everything its text needs besides the counts: ``seats:<kind>:<event
pk>:<offering pk or 0>:<capacity>``, then ``:<role>-<share>-<release time>`` for each seat
reservation there. Capacities and reservations are part of the programme, whose changes
renew the page; the counts are read per response, in one query for the whole page, and
whether a reservation still holds is decided per response too.
"""

import datetime
import functools
from collections import Counter, defaultdict

from django.db.models import Count, Value
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from sitewide.first_read import checked_read
from sitewide.pagecache import slot

from .models import Registration, SeatReservation, SessionChoice, Status
from .seats import event_reservations, seats_shown, seats_taken

PREFIX = "seats"


def seat_slot(kind, event_pk, capacity, offering_pk=None, reservations=()):
    """The slot of `kind` (see ``SEAT_TEXTS``) for an event's or an offering's seats, with
    the seat `reservations` there (those of the event itself, or of the offering)."""
    kept = "".join(
        f":{reservation.role}-{reservation.share}-{int(reservation.released_at.timestamp())}"
        for reservation in reservations
    )
    return slot(f"{PREFIX}:{kind}:{event_pk}:{offering_pk or 0}:{capacity}{kept}")


def reservations_for(event, offering_pk=None):
    """The seat reservations of `event` itself (or of its offering `offering_pk`): read once
    per event object, from the prefetched ones where there are."""
    return [
        reservation
        for reservation in event_reservations(event)
        if reservation.offering_id == offering_pk
    ]


@functools.lru_cache(maxsize=512)
def _reservation(part):
    """The reservation a slot name carries as ``<role>-<share>-<release time>``."""
    role, share, released = part.rsplit("-", 2)
    return SeatReservation(
        role=role,
        share=int(share),
        released_at=datetime.datetime.fromtimestamp(int(released), tz=datetime.UTC),
    )


@functools.lru_cache(maxsize=4096)
def _parsed(name):
    """(kind, event pk, offering pk or 0, capacity, reservations) of a slot's name: the
    same names come back with every view of a kept page."""
    _prefix, kind, event_pk, offering_pk, capacity, *kept = name.split(":")
    reservations = tuple(_reservation(part) for part in kept)
    return kind, int(event_pk), int(offering_pk), int(capacity), reservations


def fill(names):
    """{name: text} for seat slots (``sitewide.pagecache.register_slot_filler``)."""
    wanted = {}
    by_role = False
    for name in names:
        kind, event_pk, offering_pk, capacity, reservations = _parsed(name)
        by_role = by_role or bool(reservations)
        wanted.setdefault(event_pk, []).append((name, kind, offering_pk, capacity, reservations))
    offerings_by_event = {
        event_pk: sorted({slot[2] for slot in slots if slot[2]})
        for event_pk, slots in wanted.items()
    }
    # A kept page's only query: it is the connection's health check too.
    taken = checked_read(lambda: confirmed_seats(offerings_by_event, by_role=by_role))
    language = get_language()
    now = timezone.now()
    values = {}
    for event_pk, event_slots in wanted.items():
        for name, kind, offering_pk, capacity, reservations in event_slots:
            holder = ("offering", offering_pk) if offering_pk else ("event", event_pk)
            left, kept = seats_shown(capacity, taken.get(holder, {}), reservations, now)
            kept = tuple(
                (reservation.role, seats, reservation.released_at) for reservation, seats in kept
            )
            values[name] = seat_text(kind, left, kept, language)
    return values


def confirmed_seats(offerings_by_event, *, by_role=False):
    """{("event", pk): Counter, ("offering", pk): Counter} of the seats confirmed, for the
    events and offerings given ({event pk: [offering pk, ...]}), in one query. Each Counter
    holds the seats per role with `by_role` (where seats are reserved for a group), else
    all of them under None."""
    if len(offerings_by_event) == 1:
        # One event's page, on every view while registration is busy: the seat module's
        # statement costs a fraction of building the ORM's union each time.
        [(event_pk, offering_pks)] = offerings_by_event.items()
        counts = seats_taken(event_pk, offering_pks, by_role=by_role)
        return {
            ("offering", holder) if holder else ("event", event_pk): roles
            for holder, roles in counts.items()
        }
    confirmed = Status.CONFIRMED
    event_pks = list(offerings_by_event)
    offering_pks = [pk for pks in offerings_by_event.values() for pk in pks]
    role = ["role"] if by_role else []
    by_event = (
        Registration.objects.filter(event_id__in=event_pks, status=confirmed)
        .values("event_id", *role)
        .annotate(holder=Value("event"), seats=Count("pk"))
        .values_list("holder", "event_id", "seats", *role)
        .order_by()
    )
    role = ["registration__role"] if by_role else []
    by_offering = (
        SessionChoice.objects.filter(offering_id__in=offering_pks, status=confirmed)
        .values("offering_id", *role)
        .annotate(holder=Value("offering"), seats=Count("pk"))
        .values_list("holder", "offering_id", "seats", *role)
        .order_by()
    )
    rows = by_event.union(by_offering, all=True) if offering_pks else by_event
    taken = defaultdict(Counter)
    for holder, pk, seats, *role in rows:
        taken[holder, pk][role[0] if role else None] += seats
    return taken


@functools.lru_cache(maxsize=2048)
def seat_text(kind, left, kept, language):
    """The text of a seat slot with `left` seats left, `kept` ((role, seats, released at),
    ...) of them reserved for a group, per language (``language`` keys the cache: the text
    is translated)."""
    return SEAT_TEXTS[kind](left, kept)


def _groups(kept):
    """'residents until 1 March' (and so on) for the seats `kept`."""
    return _(" and ").join(
        _("%(group)s until %(date)s")
        % {
            "group": SeatReservation(role=role).group,
            "date": date_format(timezone.localtime(released_at), "j F"),
        }
        for role, _seats, released_at in kept
    )


def _left_text(left, kept):
    """'6 seats left', '6 seats left, reserved for residents until 1 March' or '6 seats
    left, 2 of them reserved for ...'."""
    if not kept:
        return ngettext("%(count)d seat left", "%(count)d seats left", left) % {"count": left}
    reserved = sum(seats for _role, seats, _released in kept)
    values = {"count": left, "reserved": reserved, "groups": _groups(kept)}
    if reserved >= left:
        return (
            ngettext(
                "%(count)d seat left, reserved for %(groups)s",
                "%(count)d seats left, reserved for %(groups)s",
                left,
            )
            % values
        )
    return (
        ngettext(
            "%(count)d seat left, %(reserved)d of them reserved for %(groups)s",
            "%(count)d seats left, %(reserved)d of them reserved for %(groups)s",
            left,
        )
        % values
    )


def _open_to_all(left, kept):
    """Whether a visitor outside the groups that seats are kept for finds a seat."""
    return left > sum(seats for _role, seats, _released in kept)


def _seats(text, left, kept=()):
    if not left:
        modifier = "full"
    elif not _open_to_all(left, kept):
        modifier = "reserved"
    else:
        modifier = "open"
    return format_html('<span class="seats seats--{}">{}</span>', modifier, text)


def _offering(left, kept):
    """On a session card or page."""
    if left:
        return _seats(_left_text(left, kept), left, kept)
    return _seats(_("full, waiting list"), left)


def _choice(left, kept):
    """Next to a choice in a form."""
    if left and not _open_to_all(left, kept):
        text = _("%(seats)s; others join the waiting list") % {"seats": _left_text(left, kept)}
        return _seats(text, left, kept)
    if left:
        return _offering(left, kept)
    return _seats(_("full, you join the waiting list"), left)


def _event_left(left, kept):
    """The registration box of an event page."""
    if left:
        return format_html("<p>{}</p>", _left_text(left, kept))
    return format_html(
        '<p class="registration-state registration-state--full">{}</p>',
        _("This event is fully booked. You can join the waiting list."),
    )


def _event_notice(left, kept):
    """Above the registration form."""
    if left and not _open_to_all(left, kept):
        return format_html(
            '<p class="notice notice--warning">{}</p>',
            _(
                "The seats left are reserved for %(groups)s. If you take part otherwise, "
                "you are placed on the waiting list."
            )
            % {"groups": _groups(kept)},
        )
    if left:
        return ""
    return format_html(
        '<p class="notice notice--warning">{}</p>',
        _(
            "This event is fully booked. If you register now, you are placed on the "
            "waiting list and we e-mail you as soon as a place becomes available."
        ),
    )


def _event_button(left, kept):
    """The label of the registration button."""
    return _("Register") if left else _("Join the waiting list")


def _event_card(left, kept):
    """An event card in a list of events."""
    if left:
        state, label = "open", _("Registration open")
    else:
        state, label = "full", _("Fully booked, waiting list")
    return format_html(
        '<p class="event-card__registration event-card__registration--{}">{}</p>', state, label
    )


SEAT_TEXTS = {
    "offering": _offering,
    "choice": _choice,
    "event-left": _event_left,
    "event-notice": _event_notice,
    "event-button": _event_button,
    "event-card": _event_card,
}
