from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language

from sitewide.pagecache import ProgrammeCache, page_cached

from . import calendar, page_scopes
from .models import (
    Event,
    Series,
    SeriesOrganiser,
    SessionOffering,
    SessionRole,
    organiser_links_prefetch,
)
from .programme_filter import ProgrammeFilter
from .templatetags.event_tags import event_json_ld

# The programme of an event page, rendered, per app server until the programme changes:
# visitors the page cache does not serve (logged in) still get it without its queries.
PROGRAMMES = ProgrammeCache()


@page_cached(scopes=page_scopes.listing_page)
def home(request):
    today = timezone.localdate()
    events = Event.objects.published().for_listing()
    context = {
        "upcoming_events": events.upcoming(today),
        "past_events": events.past(today).reverse(),
        "series_list": Series.objects.published().select_related("kind").order_by("title"),
    }
    return render(request, "events/home.html", context)


def _published_series(slug):
    return get_object_or_404(
        Series.objects.published()
        .select_related("kind")
        .prefetch_related(
            organiser_links_prefetch(SeriesOrganiser),
            Prefetch("events", queryset=Event.objects.published().for_listing()),
        ),
        slug=slug,
    )


@page_cached(scopes=page_scopes.series_page)
def series_detail(request, slug):
    series = _published_series(slug)
    return render(request, "events/series_detail.html", {"series": series})


def series_ics(request, slug):
    series = _published_series(slug)
    return _ics_response(calendar.series_calendar(series, _base_url(request)), f"{series.slug}.ics")


@page_cached(scopes=page_scopes.event_page)
def event_detail(request, slug):
    generations = PROGRAMMES.generations(page_scopes.event_page(slug))
    # The full path: a filter in the query string changes the programme shown.
    key = (request.get_full_path(), get_language(), generations) if generations else None
    kept = PROGRAMMES.get(key)
    events = Event.objects.published()
    if kept is None:
        event = get_object_or_404(events.for_programme(), slug=slug)
        programme_filter = ProgrammeFilter(event, request.GET)
        programme_filter.apply()
        event.mark_repeated_sessions()
        kept = {
            "programme": render_to_string(
                "events/includes/programme.html",
                {"event": event, "programme_filter": programme_filter},
                request,
            ),
            "json_ld": event_json_ld({"request": request}, event),
        }
        PROGRAMMES.put(key, kept)
    else:
        event = get_object_or_404(events.for_header(), slug=slug)
    return render(request, "events/event_detail.html", {"event": event, **kept})


def event_ics(request, slug):
    event = get_object_or_404(Event.objects.published().select_related("venue"), slug=slug)
    return _ics_response(calendar.event_calendar(event, _base_url(request)), f"{event.slug}.ics")


@page_cached(scopes=page_scopes.session_page)
def session_detail(request, event_slug, slug):
    event = get_object_or_404(
        Event.objects.published().select_related("venue", "series"), slug=event_slug
    )
    session = get_object_or_404(
        event.sessions.select_related("kind").prefetch_related(
            Prefetch(
                "roles",
                queryset=SessionRole.objects.select_related(
                    "speaker__organisation", "role"
                ).order_by("order", "pk"),
            ),
            Prefetch(
                "offerings",
                queryset=SessionOffering.objects.select_related("round", "last_round").order_by(
                    "round__day", "round__starts_at", "round__order"
                ),
            ),
        ),
        slug=slug,
    )
    return render(request, "events/session_detail.html", {"event": event, "session": session})


def _ics_response(cal, filename):
    response = HttpResponse(cal.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _base_url(request):
    return request.build_absolute_uri("/").rstrip("/")
