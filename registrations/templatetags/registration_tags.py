"""Registration and seats on the public pages: the state by the clock, and the seats as
slots filled per response (``registrations.seat_slots``)."""

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from sitewide.pagecache import keep_until

from ..availability import TAKING, RegistrationState, registration_state, state_changes_at
from ..seat_slots import reservations_for, seat_slot, seat_text

register = template.Library()

LABELS = {
    RegistrationState.NOT_YET_OPEN: lambda event: (
        _("Registration opens on %(date)s")
        % {"date": date_format(timezone.localtime(event.registration_opens_at), "j F Y, H:i")}
    ),
    RegistrationState.OPEN: lambda event: _("Registration open"),
    RegistrationState.PREFERENCES: lambda event: _("Give your preferences"),
    RegistrationState.ALLOCATING: lambda event: _("Places are being assigned"),
    RegistrationState.CLOSED: lambda event: _("Registration closed"),
    RegistrationState.UNAVAILABLE: lambda event: "",
}


@register.simple_tag(takes_context=True)
def event_registration_state(context, event):
    """The event's registration state now; a kept copy of the page ends when it changes."""
    request = context.get("request")
    if request is not None:
        keep_until(request, state_changes_at(event))
    return registration_state(event)


@register.simple_tag(takes_context=True)
def takes_registrations(context, event):
    """Whether the event's form takes a registration or a ranking now (a full event does:
    for its waiting list)."""
    return not event.is_past and event_registration_state(context, event) in TAKING


@register.simple_tag(takes_context=True)
def any_registration_open(context, events):
    """Whether any of `events` takes registrations first come, first served now."""
    states = [event_registration_state(context, event) for event in events]
    return RegistrationState.OPEN in states


@register.simple_tag(takes_context=True)
def registration_label(context, event):
    """'Registration open', 'Registration opens on ...', and so on ('' if not here)."""
    return LABELS[event_registration_state(context, event)](event)


@register.simple_tag(takes_context=True)
def event_card_registration(context, event):
    """The registration line of an event card: open or fully booked, filled per response."""
    state = event_registration_state(context, event)
    if state == RegistrationState.OPEN:
        return event_seats(event, "event-card")
    if state == RegistrationState.UNAVAILABLE:
        return ""
    return format_html(
        '<p class="event-card__registration event-card__registration--{}">{}</p>',
        state,
        LABELS[state](event),
    )


@register.simple_tag
def event_seats(event, kind):
    """The event's seats as a slot of `kind` (``seat_slots.SEAT_TEXTS``): 'event-left',
    'event-button', 'event-notice' or 'event-card'."""
    if event.capacity is None:  # no limit: the texts for seats left, without a number
        if kind in {"event-button", "event-card"}:
            return seat_text(kind, 1, (), get_language())
        return ""
    if kind == "event-card":  # a list of events says open or full, never for whom
        return seat_slot(kind, event.pk, event.capacity)
    return seat_slot(kind, event.pk, event.capacity, reservations=reservations_for(event))


@register.simple_tag(takes_context=True)
def offering_seats(context, offering, kind="offering"):
    """An offering's seats left as a slot ('offering' on pages, 'choice' in forms), and for
    whom some of them are kept."""
    if offering.capacity is None:
        return _("no seat limit") if kind == "offering" else ""
    event = context.get("event")
    if event is None or event.pk != offering.event_id:
        event = offering.event
    return seat_slot(
        kind,
        offering.event_id,
        offering.capacity,
        offering.pk,
        reservations=reservations_for(event, offering.pk),
    )
