from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from events import page_scopes
from events.models import BLOCK_ORDER, Event, Series, SessionOffering
from sitewide.pagecache import ProgrammeCache, SlottedPage, fill_slots, fills_slots, one_render
from sitewide.ratelimit import rate_limited

from . import services
from .availability import TAKING, RegistrationState, registration_state, state_changes_at
from .forms import (
    NO_SESSION,
    CancelForm,
    ChangeChoicesForm,
    ChangePreferencesForm,
    PreferenceForm,
    RegistrationForm,
    RoundFields,
    SeriesRegistrationForm,
)
from .models import Registration, SessionChoice
from .seats import Programme
from .standing import standing

# What the confirmation page shows travels in a signed cookie rather than the session:
# no database write, and the visitor stays anonymous for the page caches.
SUMMARY_COOKIE = "registration_summary"
SUMMARY_MAX_AGE = 30 * 60
# When registration opens, most requests are the registration form and its POST. Per
# app server, until the programme changes, are kept: the page with its seat figures as
# slots (they change with every registration), and the event with its rounds.
PROGRAMMES = ProgrammeCache()
# The registration form's query parameter that chooses a session beforehand; the
# session page links to it (templates/events/session_detail.html).
PRESELECT_PARAMETER = "sessie"


def _rounds(event):
    """The event's rounds with their offerings and leaders (seats are slots)."""
    return event.rounds.order_by(*BLOCK_ORDER).prefetch_related(
        Prefetch("offerings", queryset=SessionOffering.objects.for_choices().current())
    )


def _open_event(slug):
    return get_object_or_404(Event.objects.published().select_related("venue", "series"), slug=slug)


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


def _summary(form, events, *, preferences=False):
    """What the confirmation page shows: the address and the events, never the choices.

    The same page follows a first and a repeated registration (and a bot's), so that it
    never reveals whether an address was registered before; and as a repeated one
    changes nothing, the page claims nothing was saved: it says where the message went
    and what it tells. `preferences`: the form took rankings (the next steps differ).
    """
    return {
        "email": form.cleaned_data["email"],
        "events": [{"pk": event.pk} for event in events],
        "preferences": preferences,
    }


@require_http_methods(["GET", "POST"])
@rate_limited("registration", setting="REGISTRATION_RATE_LIMIT")
def register(request, slug):
    generation = PROGRAMMES.generations(page_scopes.event_page(slug))
    key = PROGRAMMES.page_key(request, generation)
    cached = PROGRAMMES.get(key)
    if cached is None:
        with one_render(key):
            cached = PROGRAMMES.get(key)  # kept by another thread while this one waited?
            if cached is None:
                return _registration_page(request, slug, generation, key)
    return _form_response(request, cached, status=200, cache="hit")


def _registration_page(request, slug, generation, key):
    """The form rendered (and kept under `key`), or the registration it was sent with."""
    event, rounds, programme = _registration_programme(slug, generation)
    # A past event's form answers with a normal page that says so (200: the address is
    # right and the answer is final, not an error of the visitor's; see README).
    state = "past" if event.is_past else registration_state(event)
    if state not in TAKING:
        return render(
            request,
            "registrations/registration_closed.html",
            {"event": event, "state": state},
            status=200
            if state in {RegistrationState.NOT_YET_OPEN, RegistrationState.ALLOCATING, "past"}
            else 403,
        )
    preselected = _preselected(request, programme)
    if state == RegistrationState.PREFERENCES:
        return _register_preferences(request, event, rounds, key, preselected)
    form = RegistrationForm(
        request.POST or None,
        event=event,
        rounds=rounds,
        round_fields=_round_fields(slug, generation, rounds),
        preselected=preselected,
    )
    if request.method == "POST" and form.is_valid() and form.is_spam():
        # The same answer as a registration, so the bot learns nothing; nothing is stored.
        return _to_done_page(event.slug, _summary(form, [event]))
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
            return _to_done_page(event.slug, _summary(form, [event]))
    return _render_form(request, event, form, rounds, key=key)


def _registration_programme(slug, generation):
    """The event, its rounds and what registering needs of them (seats.Programme),
    without seat counts (the form shows them in slots).

    Kept across the moment registration opens: the state is worked out from the clock
    for each request, so that every app server does not read the programme again just
    when the first visitors arrive."""
    key = ("registration", slug, generation) if generation else None
    cached = PROGRAMMES.get(key)
    if cached is None:
        event = _open_event(slug)
        rounds = list(_rounds(event))
        cached = (event, rounds, Programme.of(event, rounds))
        PROGRAMMES.put(key, cached)
    return cached


def _round_fields(slug, generation, rounds):
    """The form's radio groups for these rounds, kept per programme and language."""
    key = ("round-fields", slug, get_language(), generation) if generation else None
    fields = PROGRAMMES.get(key)
    if fields is None:
        fields = RoundFields(rounds)
        PROGRAMMES.put(key, fields, until=None)
    return fields


def _preselected(request, programme):
    """The offering that a session page's link chose (``?sessie=<offering id>``), or None.

    The form page is kept per URL, query string included (``ProgrammeCache.page_key``),
    so a kept page carries the preselection of its own URL only.
    """
    if request.method != "GET":
        return None
    try:
        return programme.offerings.get(int(request.GET.get(PRESELECT_PARAMETER, "")))
    except ValueError:
        return None


def _register_preferences(request, event, rounds, key, preselected=None):
    """Preference mode: the same form, with three ranked choices per round."""
    form = PreferenceForm(request.POST or None, event=event, rounds=rounds, preselected=preselected)
    if request.method == "POST" and form.is_valid():
        if not form.is_spam():
            try:
                services.register_preferences(
                    event, person=_person(form), preferences=form.rankings()
                )
            except ValidationError as error:
                form.add_error(None, error)
        if not form.non_field_errors():
            return _to_done_page(event.slug, _summary(form, [event], preferences=True))
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
    if not form.is_bound:
        PROGRAMMES.put(key, page, until=state_changes_at(event))
    status = 400 if form.is_bound else 200
    response = _form_response(request, page, status=status, cache="miss" if key else None)
    if form.is_bound:
        add_never_cache_headers(response)  # It shows what the visitor typed.
    return response


def _form_response(request, page, *, status, cache=None):
    """The form page with this moment's seats left and this visitor's CSRF token."""
    response = HttpResponse(page.fill(fill_slots(request, page.names)), status=status)
    if cache:
        response["X-Page-Cache"] = cache
    return response


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
    events = Event.objects.select_related("venue").in_bulk(
        [item["pk"] for item in summary["events"]]
    )
    return render(
        request,
        "registrations/registration_done.html",
        {
            "event": event,
            "email": summary["email"],
            "events": [events[item["pk"]] for item in summary["events"] if item["pk"] in events],
            "preferences": summary.get("preferences", False),
        },
    )


@fills_slots  # the seats left of its choices
@require_http_methods(["GET", "POST"])
@rate_limited("registration", setting="REGISTRATION_RATE_LIMIT")
def register_for_series(request, slug):
    series = get_object_or_404(Series.objects.published(), slug=slug)
    published = list(series.events.published().select_related("venue"))
    events = [
        event
        for event in published
        if not event.is_past and registration_state(event) == RegistrationState.OPEN
    ]
    rounds_by_event = {event.pk: list(_rounds(event)) for event in events}
    form = SeriesRegistrationForm(
        request.POST or None, events=events, rounds_by_event=rounds_by_event
    )
    if request.method == "POST" and form.is_valid():
        chosen = form.chosen_events()
        summary = _summary(form, [event for event, _ids in chosen])
        if form.is_spam():  # As in register(): answered as usual, nothing stored.
            return _to_done_page(chosen[0][0].slug, summary)
        try:
            services.register_for_series(chosen, person=_person(form))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _to_done_page(chosen[0][0].slug, summary)
    response = render(
        request,
        "registrations/series_form.html",
        {
            "series": series,
            "form": form,
            "events": events,
            "all_past": bool(published) and all(event.is_past for event in published),
        },
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
                .select_related("offering__session", "offering__round", "offering__last_round")
                .order_by("round__day", "round__starts_at"),
            )
        ),
        token=token,
    )


@fills_slots  # the seats left of its choices
@never_cache  # Personal data: no browser or proxy may keep a copy.
@require_http_methods(["GET", "POST"])
def manage(request, token):
    """The personal-link page: see the registration, change sessions, go to cancel."""
    registration = _registration(token)
    event = registration.event
    state = registration_state(event)
    if not registration.is_active:
        # Whoever has the link sees the event and the cancellation, no personal data.
        return render(
            request,
            "registrations/manage_cancelled.html",
            {"event": event, "can_register": state in TAKING},
            status=409 if request.method == "POST" else 200,  # Nothing may change any more.
        )
    can_change = state in TAKING
    form = None
    status = 200
    if can_change and state == RegistrationState.PREFERENCES:
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
    return render(
        request,
        "registrations/manage.html",
        {
            "registration": registration,
            "event": event,
            "standing": standing(registration),
            "awaiting_allocation": event.uses_preferences and not event.allocated_at,
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
