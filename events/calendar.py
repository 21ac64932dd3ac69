"""iCalendar files for events and series, built with the ``icalendar`` library."""

import datetime
import functools
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Timezone
from icalendar import Event as CalendarEvent

PRODID = "-//Buurtprogramma//Programma//NL"


def _new_calendar(name, method="PUBLISH"):
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", settings.TIME_ZONE)
    return cal


def _location(event):
    if event.venue_id:
        venue = event.venue
        parts = [venue.name, venue.street_address, f"{venue.postal_code} {venue.city}".strip()]
        return ", ".join(part for part in parts if part)
    if event.is_online:
        return event.online_note or _("Online")
    if event.venue_to_be_announced:
        return _("Venue to be announced")
    return ""


def _calendar_event(event, base_url, *, extra_description=""):
    url = f"{base_url}{event.get_absolute_url()}"
    item = CalendarEvent()
    host = urlsplit(base_url).hostname or "localhost"
    item.add("uid", f"event-{event.pk}@{host}")
    item.add("summary", event.title)
    item.add("dtstamp", timezone.now())
    if event.starts_at:
        # Aware datetimes in Europe/Amsterdam; icalendar writes TZID and the VTIMEZONE.
        tz = timezone.get_default_timezone()
        item.add("dtstart", event.starts_at.astimezone(tz))
        ends_at = event.ends_at or event.starts_at + datetime.timedelta(hours=2)
        item.add("dtend", ends_at.astimezone(tz))
    else:
        item.add("dtstart", event.start_date)
        item.add("dtend", event.last_date + datetime.timedelta(days=1))
    if event.is_provisional:
        item.add("status", "TENTATIVE")
    else:
        item.add("status", "CONFIRMED")
    location = _location(event)
    if location:
        item.add("location", location)
    doors = ""
    if event.doors_open and event.shows_times:
        doors = _("Doors open %(time)s") % {"time": event.doors_open.strftime("%H:%M")}
    description = "\n\n".join(
        part for part in [event.summary, doors, extra_description, url] if part
    )
    item.add("description", description)
    item.add("url", url)
    return item


def _add_timezones(cal, events):
    """The VTIMEZONE for the events' times, with the changes of a year either side of
    their dates. (By default icalendar works out every change of the zone from 1970 to
    2038: a third of the time it took to write a confirmation e-mail.)"""
    dates = [date for event in events for date in (event.start_date, event.last_date)]
    if not dates:
        return
    margin = datetime.timedelta(days=366)
    first_date, last_date = min(dates) - margin, max(dates) + margin
    # As Calendar.add_missing_timezones(), with each zone built once per date range.
    position = len(cal.timezones)
    for tzid in sorted(cal.get_missing_tzids()):
        zone = _timezone(tzid, first_date, last_date)
        if zone is not None:
            cal.subcomponents.insert(position, zone)
            position += 1


@functools.lru_cache(maxsize=64)
def _timezone(tzid, first_date, last_date):
    """The VTIMEZONE of `tzid` between the dates, or None for a zone icalendar does not
    know. Kept: working out a zone's changes took half the time of an event's calendar,
    and every confirmation e-mail carries one. (Calendars only read it.)"""
    try:
        return Timezone.from_tzid(tzid, first_date=first_date, last_date=last_date)
    except ValueError:
        return None


def event_calendar(event, base_url, *, extra_description="", sequence=None, cancelled=False):
    """A calendar with the event; `base_url` is the site's scheme and host.

    `sequence`: the entry's version, so that a calendar replaces the entry it has (same
    UID) after a programme change; `cancelled`: the entry is to be removed (METHOD:CANCEL).
    """
    cal = _new_calendar(event.title, "CANCEL" if cancelled else "PUBLISH")
    item = _calendar_event(event, base_url, extra_description=extra_description)
    if sequence is not None:
        item.add("sequence", sequence)
    if cancelled:
        item["status"] = "CANCELLED"
    cal.add_component(item)
    _add_timezones(cal, [event])
    return cal


def series_calendar(series, base_url):
    cal = _new_calendar(series.title)
    events = list(series.events.all())
    for event in events:
        cal.add_component(_calendar_event(event, base_url))
    _add_timezones(cal, events)
    return cal
