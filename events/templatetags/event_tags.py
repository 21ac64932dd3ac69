"""Presentation helpers for event pages. None of them query the database."""

import json

from django import template
from django.utils.formats import date_format, time_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def event_dates(event):
    """Dutch date, e.g. donderdag 28 januari 2021, or a range for multi-day events."""
    start = date_format(event.start_date, "l j F Y")
    if not event.is_multi_day:
        return start
    end = date_format(event.end_date, "l j F Y")
    if event.start_date.year == event.end_date.year:
        start_format = "l j F" if event.start_date.month != event.end_date.month else "l j"
        start = date_format(event.start_date, start_format)
    return _("%(start)s to %(end)s") % {"start": start, "end": end}


@register.simple_tag
def event_times(event):
    if event.time_to_be_confirmed:
        return _("time to be confirmed")
    if not event.start_time:
        return ""
    if event.end_time:
        times = _("%(start)s – %(end)s") % {
            "start": time_format(event.start_time, "H:i"),
            "end": time_format(event.end_time, "H:i"),
        }
    else:
        times = _("from %(start)s") % {"start": time_format(event.start_time, "H:i")}
    if event.doors_open:
        times += " " + doors_open_text(event)
    return times


def doors_open_text(event):
    """'(inloop vanaf 12:30)'."""
    return _("(doors open %(time)s)") % {"time": time_format(event.doors_open, "H:i")}


@register.simple_tag
def item_times(item):
    start = time_format(item.starts_at, "H:i")
    if item.ends_at:
        return format_html(
            "<time>{}</time> – <time>{}</time>", start, time_format(item.ends_at, "H:i")
        )
    return format_html("<time>{}</time>", start)


@register.simple_tag(takes_context=True)
def event_json_ld(context, event):
    """schema.org Event as JSON-LD, from relations the view prefetched."""
    request = context["request"]
    data = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": event.title,
        "url": request.build_absolute_uri(event.get_absolute_url()),
        "eventStatus": "https://schema.org/EventScheduled",
        "inLanguage": "nl",
    }
    if event.starts_at:
        data["startDate"] = event.starts_at.isoformat()
        if event.ends_at:
            data["endDate"] = event.ends_at.isoformat()
    else:
        data["startDate"] = event.start_date.isoformat()
        if event.end_date:
            data["endDate"] = event.end_date.isoformat()
    if event.summary:
        data["description"] = event.summary
    if event.venue_id:
        venue = event.venue
        data["eventAttendanceMode"] = "https://schema.org/OfflineEventAttendanceMode"
        data["location"] = {
            "@type": "Place",
            "name": venue.name,
            "address": {
                "@type": "PostalAddress",
                "streetAddress": venue.street_address,
                "postalCode": venue.postal_code,
                "addressLocality": venue.city,
                "addressCountry": "NL",
            },
        }
    elif event.is_online:
        data["eventAttendanceMode"] = "https://schema.org/OnlineEventAttendanceMode"
        data["location"] = {
            "@type": "VirtualLocation",
            "url": request.build_absolute_uri(event.get_absolute_url()),
        }
    organisers = [
        {"@type": "Organization", "name": link.organisation.name}
        for link in event.organiser_links.all()
    ]
    if organisers:
        data["organizer"] = organisers
    performers = []
    seen = set()
    for role in event.roles.all():
        if role.speaker_id and role.speaker_id not in seen:
            seen.add(role.speaker_id)
            performers.append({"@type": "Person", "name": role.speaker.name})
    for round_ in event.rounds.all():
        for offering in round_.offerings.all():
            for role in offering.session.roles.all():
                if role.speaker_id and role.speaker_id not in seen:
                    seen.add(role.speaker_id)
                    performers.append({"@type": "Person", "name": role.speaker.name})
    if performers:
        data["performer"] = performers
    payload = json.dumps(data, ensure_ascii=False, indent=None)
    # Escape characters that could close the script element.
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return mark_safe(f'<script type="application/ld+json">{payload}</script>')  # noqa: S308
