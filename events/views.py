from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from sitewide.pagecache import page_cached

from . import calendar
from .models import (
    Event,
    Series,
    SeriesOrganiser,
    SessionOffering,
    SessionRole,
    organiser_links_prefetch,
)
from .programme_filter import ProgrammeFilter


@page_cached
def home(request):
    today = timezone.localdate()
    events = Event.objects.published().for_listing()
    context = {
        "upcoming_events": events.upcoming(today),
        "past_events": events.past(today).reverse(),
        "series_list": Series.objects.published().order_by("title"),
    }
    return render(request, "events/home.html", context)


def _published_series(slug):
    return get_object_or_404(
        Series.objects.published().prefetch_related(
            organiser_links_prefetch(SeriesOrganiser),
            Prefetch("events", queryset=Event.objects.published().for_listing()),
        ),
        slug=slug,
    )


@page_cached
def series_detail(request, slug):
    series = _published_series(slug)
    registration_open = any(
        event.registration_state() in {"open", "full"} for event in series.events.all()
    )
    return render(
        request,
        "events/series_detail.html",
        {"series": series, "registration_open": registration_open},
    )


def series_ics(request, slug):
    series = _published_series(slug)
    return _ics_response(calendar.series_calendar(series, _base_url(request)), f"{series.slug}.ics")


@page_cached
def event_detail(request, slug):
    event = get_object_or_404(Event.objects.published().for_programme(), slug=slug)
    programme_filter = ProgrammeFilter(event, request.GET)
    programme_filter.apply()
    return render(
        request,
        "events/event_detail.html",
        {"event": event, "programme_filter": programme_filter},
    )


def event_ics(request, slug):
    event = get_object_or_404(Event.objects.published().select_related("venue"), slug=slug)
    return _ics_response(calendar.event_calendar(event, _base_url(request)), f"{event.slug}.ics")


@page_cached
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
                queryset=SessionOffering.objects.with_seat_counts()
                .select_related("round")
                .order_by("round__day", "round__starts_at", "round__order"),
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
