"""The seats on public pages: slots filled in per response, so that a registration never
renews a kept page (``sitewide.pagecache``).

A slot's name says everything its text needs besides the count: ``seats:<kind>:<event
pk>:<offering pk or 0>:<capacity>``. The capacity is part of the programme, whose changes
renew the page; the counts are read per response, in one query for the whole page.
"""

import functools

from django.db.models import Count, Value
from django.utils.html import format_html
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from sitewide.pagecache import slot

from .models import Registration, SessionChoice, Status
from .seats import seats_taken

PREFIX = "seats"


def seat_slot(kind, event_pk, capacity, offering_pk=None):
    """The slot of `kind` (see ``SEAT_TEXTS``) for an event's or an offering's seats."""
    return slot(f"{PREFIX}:{kind}:{event_pk}:{offering_pk or 0}:{capacity}")


def fill(names):
    """{name: text} for seat slots (``sitewide.pagecache.register_slot_filler``)."""
    wanted = {}
    for name in names:
        _prefix, kind, event_pk, offering_pk, capacity = name.split(":")
        wanted.setdefault(int(event_pk), []).append((name, kind, int(offering_pk), int(capacity)))
    taken = confirmed_seats(
        {
            event_pk: sorted({offering_pk for _n, _k, offering_pk, _c in slots if offering_pk})
            for event_pk, slots in wanted.items()
        }
    )
    language = get_language()
    values = {}
    for event_pk, event_slots in wanted.items():
        for name, kind, offering_pk, capacity in event_slots:
            holder = ("offering", offering_pk) if offering_pk else ("event", event_pk)
            values[name] = seat_text(kind, max(capacity - taken.get(holder, 0), 0), language)
    return values


def confirmed_seats(offerings_by_event):
    """{("event", pk): seats, ("offering", pk): seats} confirmed, for the events and
    offerings given ({event pk: [offering pk, ...]}), in one query."""
    if len(offerings_by_event) == 1:
        # One event's page, on every view while registration is busy: the seat module's
        # prepared statement costs a fraction of building the ORM's union each time.
        [(event_pk, offering_pks)] = offerings_by_event.items()
        counts = seats_taken(event_pk, offering_pks, by_role=False)
        return {
            ("offering", holder) if holder else ("event", event_pk): sum(roles.values())
            for holder, roles in counts.items()
        }
    confirmed = Status.CONFIRMED
    event_pks = list(offerings_by_event)
    offering_pks = [pk for pks in offerings_by_event.values() for pk in pks]
    by_event = (
        Registration.objects.filter(event_id__in=event_pks, status=confirmed)
        .values("event_id")
        .annotate(holder=Value("event"), seats=Count("pk"))
        .values_list("holder", "event_id", "seats")
        .order_by()
    )
    by_offering = (
        SessionChoice.objects.filter(offering_id__in=offering_pks, status=confirmed)
        .values("offering_id")
        .annotate(holder=Value("offering"), seats=Count("pk"))
        .values_list("holder", "offering_id", "seats")
        .order_by()
    )
    rows = by_event.union(by_offering, all=True) if offering_pks else by_event
    return {(holder, pk): seats for holder, pk, seats in rows}


@functools.lru_cache(maxsize=2048)
def seat_text(kind, left, language):
    """The text of a seat slot with `left` seats left, per language (``language`` keys
    the cache: the text is translated)."""
    return SEAT_TEXTS[kind](left)


def _seats(text, left):
    modifier = "open" if left else "full"
    return format_html('<span class="seats seats--{}">{}</span>', modifier, text)


def _offering(left):
    """On a session card or page."""
    if left:
        text = ngettext("%(count)d seat left", "%(count)d seats left", left) % {"count": left}
        return _seats(text, left)
    return _seats(_("full, waiting list"), left)


def _choice(left):
    """Next to a choice in a form."""
    if left:
        return _offering(left)
    return _seats(_("full, you join the waiting list"), left)


def _event_left(left):
    """The registration box of an event page."""
    if left:
        return format_html(
            "<p>{}</p>",
            ngettext("%(count)d seat left", "%(count)d seats left", left) % {"count": left},
        )
    return format_html(
        '<p class="registration-state registration-state--full">{}</p>',
        _("This event is fully booked. You can join the waiting list."),
    )


def _event_notice(left):
    """Above the registration form."""
    if left:
        return ""
    return format_html(
        '<p class="notice notice--warning">{}</p>',
        _(
            "This event is fully booked. If you register now, you are placed on the "
            "waiting list and we e-mail you as soon as a place becomes available."
        ),
    )


def _event_button(left):
    """The label of the registration button."""
    return _("Register") if left else _("Join the waiting list")


def _event_card(left):
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
