import datetime
import functools

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.html import conditional_escape, format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from events.models import BLOCK_ORDER, Event, Series, SessionOffering
from sitewide.pagecache import ProgrammeCache, SlottedPage
from sitewide.ratelimit import rate_limited

from . import services
from .forms import (
    NO_SESSION,
    CancelForm,
    ChangeChoicesForm,
    ChangePreferencesForm,
    PreferenceForm,
    RegistrationForm,
    RoundFields,
    SeriesRegistrationForm,
    seats_label,
)
from .models import Registration, SessionChoice
from .seats import Programme, seats_taken

# What the confirmation page shows travels in a signed cookie rather than the session:
# no database write, and the visitor stays anonymous for the page caches.
SUMMARY_COOKIE = "registration_summary"
SUMMARY_MAX_AGE = 30 * 60
# When registration opens, most requests are the registration form and its POST. Per
# app server, until the programme changes, are kept: the page with its seat figures as
# slots (they change with every registration), and the event with its rounds.
PROGRAMMES = ProgrammeCache()


def _rounds(event, *, seats=True):
    """The event's rounds with their offerings, leaders and (unless the page shows them
    in slots) seats taken."""
    offerings = SessionOffering.objects.for_choices().current()
    if seats:
        offerings = offerings.with_seat_counts()
    return event.rounds.order_by(*BLOCK_ORDER).prefetch_related(
        Prefetch("offerings", queryset=offerings)
    )


def _open_event(slug, *, seats=True):
    events = Event.objects.published().select_related("venue", "series")
    return get_object_or_404(events.with_seat_counts() if seats else events, slug=slug)


def _person(form):
    data = form.cleaned_data
    return services.Person(
        name=data["name"],
        email=data["email"],
        role=data["role"],
        organisation=data.get("organisation", ""),
        function=data.get("function", ""),
        question=data.get("question", ""),
        language=get_language() or "nl",
    )


def _summary(form, events_with_ids, rounds):
    """What the confirmation page shows: the submitted choices, not stored state.

    The same page follows a first and a repeated registration, so that it never
    reveals whether an address was registered before. `rounds` are the form's.
    """
    chosen = {pk for _event, ids in events_with_ids for pk in ids}
    picked = [
        (round_, offering)
        for round_ in rounds
        for offering in round_.offerings.all()
        if offering.pk in chosen
    ]
    by_event = {}
    for round_, offering in sorted(
        picked, key=lambda pair: (pair[0].day or datetime.date.min, pair[0].starts_at)
    ):
        by_event.setdefault(offering.event_id, []).append(
            {
                "round": round_.title,
                "starts_at": round_.starts_at.strftime("%H:%M"),
                "ends_at": round_.ends_at.strftime("%H:%M") if round_.ends_at else "",
                "session": offering.session.title,
                "location": offering.location,
            }
        )
    return {
        "email": form.cleaned_data["email"],
        "events": [
            {"pk": event.pk, "sessions": by_event.get(event.pk, [])}
            for event, _ids in events_with_ids
        ],
    }


@require_http_methods(["GET", "POST"])
@rate_limited("registration", setting="REGISTRATION_RATE_LIMIT")
def register(request, slug):
    generation = PROGRAMMES.generation()
    key = PROGRAMMES.page_key(request, generation)
    cached = PROGRAMMES.get(key)
    if cached is not None:
        return _form_response(request, *cached, status=200, cache="hit")
    event, rounds, programme = _registration_programme(slug, generation)
    state = event.registration_state(count_seats=False)
    if state not in {"open", "preferences"}:
        return render(
            request,
            "registrations/registration_closed.html",
            {"event": event, "state": state},
            status=200 if state in {"not_yet_open", "allocating"} else 403,
        )
    if state == "preferences":
        return _register_preferences(request, event, rounds, key)
    form = RegistrationForm(
        request.POST or None,
        event=event,
        rounds=rounds,
        seat_slots=True,
        round_fields=_round_fields(slug, generation, rounds),
    )
    if request.method == "POST" and form.is_valid() and form.is_spam():
        # The same answer as a registration, so the bot learns nothing; nothing is stored.
        return _to_done_page(
            event.slug, _summary(form, [(event, form.chosen_offering_ids())], rounds)
        )
    if request.method == "POST" and form.is_valid():
        try:
            services.register_attendee(
                event,
                person=_person(form),
                offering_ids=form.chosen_offering_ids(),
                programme=programme,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _to_done_page(
                event.slug, _summary(form, [(event, form.chosen_offering_ids())], rounds)
            )
    return _render_form(request, event, form, rounds, key=key)


def _registration_programme(slug, generation):
    """The event, its rounds and what registering needs of them (seats.Programme),
    without seat counts (the form shows them in slots)."""
    key = ("registration", slug, generation) if generation else None
    cached = PROGRAMMES.get(key)
    if cached is None:
        event = _open_event(slug, seats=False)
        rounds = list(_rounds(event, seats=False))
        cached = (event, rounds, Programme.of(event, rounds))
        PROGRAMMES.put(key, cached, until=event.registration_state_changes_at())
    return cached


def _round_fields(slug, generation, rounds):
    """The form's radio groups for these rounds, kept per programme and language."""
    key = ("round-fields", slug, get_language(), generation) if generation else None
    fields = PROGRAMMES.get(key)
    if fields is None:
        fields = RoundFields(rounds, seat_slots=True)
        PROGRAMMES.put(key, fields, until=None)
    return fields


def _register_preferences(request, event, rounds, key):
    """Preference mode: the same form, with three ranked choices per round."""
    form = PreferenceForm(request.POST or None, event=event, rounds=rounds)
    if request.method == "POST" and form.is_valid():
        if not form.is_spam():
            try:
                services.register_preferences(
                    event, person=_person(form), preferences=form.rankings()
                )
            except ValidationError as error:
                form.add_error(None, error)
        if not form.non_field_errors():
            return _to_done_page(event.slug, _preference_summary(form, event))
    return _render_form(request, event, form, rounds, key=key, preferences=True)


def _render_form(request, event, form, rounds, *, key, preferences=False):
    """Render the form page with its seat figures as slots, keep it while unbound, and
    fill it in."""
    page = SlottedPage(
        render_to_string(
            "registrations/registration_form.html",
            {"event": event, "form": form, "rounds": rounds, "preferences": preferences},
            request,
        )
    )
    seats = {
        "event": (event.pk, event.capacity),
        "offerings": {
            offering.pk: offering.capacity
            for round_ in rounds
            for offering in round_.offerings.all()
            if offering.capacity is not None and not preferences
        },
    }
    if not form.is_bound:
        PROGRAMMES.put(key, (page, seats), until=event.registration_state_changes_at())
    status = 400 if form.is_bound else 200
    response = _form_response(request, page, seats, status=status, cache="miss" if key else None)
    if form.is_bound:
        add_never_cache_headers(response)  # It shows what the visitor typed.
    return response


def _form_response(request, page, seats, *, status, cache=None):
    """The form page with this moment's seats left and this visitor's CSRF token."""
    event_pk, capacity = seats["event"]
    taken = {}
    if capacity is not None or seats["offerings"]:
        taken = {
            holder: sum(roles.values())
            for holder, roles in seats_taken(
                event_pk, list(seats["offerings"]), by_role=False
            ).items()
        }
    event_full = capacity is not None and taken.get(None, 0) >= capacity
    values = {
        "csrf": get_token(request),
        "event-full": format_html(
            '<p class="notice notice--warning">{}</p>',
            _(
                "This event is fully booked. If you register now, you are placed on the "
                "waiting list and we e-mail you as soon as a place becomes available."
            ),
        )
        if event_full
        else "",
        "submit": _("Join the waiting list") if event_full else _("Register"),
    }
    for offering_pk, offering_capacity in seats["offerings"].items():
        left = max(offering_capacity - taken.get(offering_pk, 0), 0)
        values[f"seats:{offering_pk}"] = _seats_left_html(left, get_language())
    response = HttpResponse(page.fill(values), status=status)
    if cache:
        response["X-Page-Cache"] = cache
    return response


@functools.lru_cache(maxsize=1024)
def _seats_left_html(left, language):
    """seats_label(), escaped, per number of seats left and language: the form page
    fills in one for each offering on every view."""
    return conditional_escape(seats_label(left, 0))


def _preference_summary(form, event):
    titles = {
        offering.pk: (offering.round.title, offering.session.title)
        for offering in SessionOffering.objects.filter(event=event).select_related(
            "round", "session"
        )
    }
    return {
        "email": form.cleaned_data["email"],
        "events": [
            {
                "pk": event.pk,
                "sessions": [],
                "preferences": [
                    {"round": titles[oid][0], "rank": rank, "session": titles[oid][1]}
                    for ranked in form.rankings().values()
                    for rank, oid in enumerate(ranked, start=1)
                ],
            }
        ],
    }


def _to_done_page(slug, summary):
    """Redirect to the confirmation page, with what it shows in a signed cookie that
    only that page receives (HTTPS only, not readable by scripts, for half an hour)."""
    response = redirect("registrations:done", slug=slug)
    response.set_cookie(
        SUMMARY_COOKIE,
        signing.dumps(summary, salt=SUMMARY_COOKIE, compress=True),
        max_age=SUMMARY_MAX_AGE,
        path=response["Location"],
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _summary_from_cookie(request):
    try:
        return signing.loads(
            request.COOKIES.get(SUMMARY_COOKIE, ""), salt=SUMMARY_COOKIE, max_age=SUMMARY_MAX_AGE
        )
    except signing.BadSignature:
        return None


@never_cache  # Shows the e-mail address: no browser or proxy may keep it.
def registration_done(request, slug):
    event = _open_event(slug)
    summary = _summary_from_cookie(request)
    if not summary or event.pk not in {item["pk"] for item in summary["events"]}:
        return redirect(event)
    events = {e.pk: e for e in Event.objects.filter(pk__in=[i["pk"] for i in summary["events"]])}
    items = [
        {
            "event": events[item["pk"]],
            "sessions": item["sessions"],
            "preferences": item.get("preferences", []),
        }
        for item in summary["events"]
    ]
    return render(
        request,
        "registrations/registration_done.html",
        {"event": event, "email": summary["email"], "items": items},
    )


@require_http_methods(["GET", "POST"])
@rate_limited("registration", setting="REGISTRATION_RATE_LIMIT")
def register_for_series(request, slug):
    series = get_object_or_404(Series.objects.published(), slug=slug)
    events = [
        event
        for event in series.events.published().with_seat_counts().select_related("venue")
        if event.registration_state() in {"open", "full"}
    ]
    rounds_by_event = {event.pk: list(_rounds(event)) for event in events}
    form = SeriesRegistrationForm(
        request.POST or None, events=events, rounds_by_event=rounds_by_event
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.chosen_events()
        all_rounds = [round_ for rounds in rounds_by_event.values() for round_ in rounds]
        if form.is_spam():  # As in register(): answered as usual, nothing stored.
            return _to_done_page(chosen[0][0].slug, _summary(form, chosen, all_rounds))
        try:
            services.register_for_series(chosen, person=_person(form))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _to_done_page(chosen[0][0].slug, _summary(form, chosen, all_rounds))
    response = render(
        request,
        "registrations/series_form.html",
        {"series": series, "form": form, "events": events},
        status=400 if form.is_bound else 200,
    )
    if form.is_bound:
        add_never_cache_headers(response)  # It shows what the visitor typed.
    return response


def _registration(token):
    return get_object_or_404(
        Registration.objects.select_related("event__venue", "event__series").prefetch_related(
            Prefetch(
                "choices",
                queryset=SessionChoice.objects.active()
                .select_related("offering__session", "offering__round")
                .order_by("round__day", "round__starts_at"),
            )
        ),
        token=token,
    )


@never_cache  # Personal data: no browser or proxy may keep a copy.
@require_http_methods(["GET", "POST"])
def manage(request, token):
    """The personal-link page: see the registration, change sessions, go to cancel."""
    registration = _registration(token)
    event = registration.event
    state = event.registration_state()
    if not registration.is_active:
        # Whoever has the link sees the event and the cancellation, no personal data.
        return render(
            request,
            "registrations/manage_cancelled.html",
            {"event": event, "can_register": state in {"open", "full", "preferences"}},
            status=409 if request.method == "POST" else 200,  # Nothing may change any more.
        )
    can_change = state in {"open", "full", "preferences"}
    form = None
    status = 200
    if can_change and state == "preferences":
        form, status, done = _change_preferences(request, registration)
        if done:
            return redirect(registration)
    elif can_change:
        rounds = list(_rounds(event))
        current = {round_.pk: NO_SESSION for round_ in rounds}
        # The offering's own round: where the choice shows, whatever copy it keeps.
        current.update(
            {c.offering.round_id: str(c.offering_id) for c in registration.choices.all()}
        )
        form = ChangeChoicesForm(request.POST or None, rounds=rounds, current=current)
        if request.method == "POST":
            if form.is_valid():
                try:
                    services.change_choices(registration, offering_ids=form.chosen_offering_ids())
                except ValidationError as error:
                    form.add_error(None, error)
                else:
                    messages.success(
                        request, _("Your choices have been saved. We sent you an e-mail.")
                    )
                    return redirect(registration)
            status = 400
    elif request.method == "POST":
        status = 409  # Closed: nothing may change any more.
    lines = [
        {"choice": choice, "position": SessionChoice.objects.waiting_position(choice)}
        for choice in registration.choices.all()
    ]
    return render(
        request,
        "registrations/manage.html",
        {
            "registration": registration,
            "event": event,
            "lines": lines,
            "event_position": Registration.objects.waiting_position(registration),
            "form": form,
            "can_change": can_change,
            "preferences": list(
                registration.preferences.select_related("offering__session", "round").order_by(
                    "round__starts_at", "rank"
                )
            ),
        },
        status=status,
    )


def _change_preferences(request, registration):
    """Returns (form, status, done) for the personal-link page in preference mode."""
    rounds = list(_rounds(registration.event))
    current = {(p.round_id, p.rank): str(p.offering_id) for p in registration.preferences.all()}
    form = ChangePreferencesForm(request.POST or None, rounds=rounds, current=current)
    if request.method != "POST":
        return form, 200, False
    if form.is_valid():
        try:
            services.change_preferences(registration, preferences=form.rankings())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your choices have been saved. We sent you an e-mail."))
            return form, 302, True
    return form, 400, False


@never_cache
@require_http_methods(["GET", "POST"])
def cancel(request, token):
    registration = _registration(token)
    if not registration.is_active:
        # Cancelled already (a second click, an old e-mail): the personal page says so and
        # offers to register again.
        return redirect(registration)
    if registration.event.is_past:
        # Nothing to free any more, and nobody should be told a seat came free.
        return render(
            request,
            "registrations/cancel.html",
            {"registration": registration, "event": registration.event, "past": True},
            status=409 if request.method == "POST" else 200,
        )
    if request.method == "POST" and registration.is_active:
        services.cancel_registration(registration)
        messages.success(request, _("Your registration has been cancelled. We sent you an e-mail."))
        return redirect(registration)
    return render(
        request,
        "registrations/cancel.html",
        {
            "registration": registration,
            "event": registration.event,
            "form": CancelForm(keep_url=registration.get_absolute_url()),
        },
    )


def privacy(request):
    return render(request, "registrations/privacy.html")
