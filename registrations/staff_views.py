"""Pages for moderators and organisers: lists, exports, check-in and the overview.

Every view here shows personal data, so each one checks who is asking: anonymous
visitors go to the login page, logged-in users without a right to the list get 403.
And each one is ``never_cache``: no browser or proxy may keep a copy.
"""

from collections import Counter
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponse, JsonResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.cache import never_cache

from events.models import BLOCK_ORDER, Event, SessionOffering, SessionRole

from . import attendees
from .forms import CheckinSearchForm, CheckinToggleForm, ExportColumnsForm, PersonSearchForm
from .models import ExportColumns, Registration, SessionChoice, Status

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _offering(user, offering_id):
    offering = get_object_or_404(
        SessionOffering.objects.select_related(
            "session__kind", "session__event", "round", "last_round", "event__venue"
        ).prefetch_related(
            Prefetch(
                "session__roles",
                queryset=SessionRole.objects.select_related(
                    "speaker__organisation", "role"
                ).order_by("order", "pk"),
            )
        ),
        pk=offering_id,
    )
    if not attendees.can_see_offering_list(user, offering):
        raise PermissionDenied
    return offering


def _event(user, event_id):
    event = get_object_or_404(Event.objects.select_related("venue"), pk=event_id)
    if not attendees.can_see_event_list(user, event):
        raise PermissionDenied
    return event


@never_cache
@login_required
def my_sessions(request):
    """A moderator's lists: the events and session offerings assigned to them."""
    user = request.user
    seat_counts = {
        "confirmed": Count("choices", filter=Q(choices__status=Status.CONFIRMED)),
        "waiting": Count("choices", filter=Q(choices__status=Status.WAITING)),
        "present": Count(
            "choices",
            filter=Q(choices__status=Status.CONFIRMED, choices__checked_in_at__isnull=False),
        ),
    }
    # Select the offerings first: joining moderators in the counted query would multiply rows.
    mine = SessionOffering.objects.filter(Q(moderators=user) | Q(event__moderators=user))
    offerings = (
        SessionOffering.objects.filter(pk__in=mine.values("pk"))
        .select_related("session", "round", "last_round", "event")
        .annotate(**seat_counts)
        .order_by("-event__start_date", "round__starts_at", "order")
    )
    events = (
        Event.objects.filter(moderators=user)
        .annotate(
            confirmed=Count("registrations", filter=Q(registrations__status=Status.CONFIRMED)),
            waiting=Count("registrations", filter=Q(registrations__status=Status.WAITING)),
        )
        .order_by("-start_date")
    )
    return render(
        request,
        "registrations/staff/my_sessions.html",
        {
            "offerings": offerings,
            "events": events,
            "is_organiser": user.has_perm("registrations.view_registration"),
        },
    )


def _list_urls(attendee_list):
    """The links of a list page: check-in, exports and (for a session) its cue card."""
    if attendee_list.offering:
        args, prefix = [attendee_list.offering.pk], "registrations:offering_"
    else:
        args, prefix = [attendee_list.event.pk], "registrations:event_"
    urls = {
        "checkin_url": reverse(f"{prefix}checkin", args=args),
        "csv_url": reverse(f"{prefix}export", args=[*args, "csv"]),
        "xlsx_url": reverse(f"{prefix}export", args=[*args, "xlsx"]),
    }
    if attendee_list.offering:
        urls["cue_card_url"] = reverse("registrations:offering_cue_card", args=args)
    return urls


def _list_page(request, attendee_list, *, export_form=None):
    urls = _list_urls(attendee_list)
    if export_form is None:
        export_form = ExportColumnsForm.for_user(
            request.user, csv_url=urls["csv_url"], xlsx_url=urls["xlsx_url"]
        )
    return render(
        request,
        "registrations/staff/attendee_list.html",
        {
            "list": attendee_list,
            "event": attendee_list.event,
            "offering": attendee_list.offering,
            "export_form": export_form,
            **urls,
        },
    )


@never_cache
@login_required
def offering_attendees(request, offering_id):
    offering = _offering(request.user, offering_id)
    return _list_page(request, attendees.offering_list(offering))


@never_cache
@login_required
def event_attendees(request, event_id):
    event = _event(request.user, event_id)
    return _list_page(request, attendees.event_list(event))


def _export(attendee_list, fmt, request):
    """A GET exports the user's remembered columns; the list page's form POSTs a new
    choice, which is remembered and exported at once."""
    if fmt not in {"csv", "xlsx"}:
        raise Http404
    if request.method == "POST":
        urls = _list_urls(attendee_list)
        form = ExportColumnsForm(request.POST, csv_url=urls["csv_url"], xlsx_url=urls["xlsx_url"])
        if not form.is_valid():
            return _list_page(request, attendee_list, export_form=form)
        columns = form.columns
        ExportColumns.remember(request.user, columns)
    else:
        columns = ExportColumns.for_user(request.user)
    name = slugify(attendee_list.title)[:60] or "deelnemers"
    if attendee_list.offering:
        name = f"{name}-{slugify(attendee_list.offering.round.title)}"
    if fmt == "xlsx":
        response = HttpResponse(
            attendees.as_xlsx(attendee_list, columns=columns), content_type=XLSX
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    delimiter = "," if request.GET.get("delimiter") == "comma" else ";"
    response = HttpResponse(
        attendees.as_csv(attendee_list, delimiter=delimiter, columns=columns),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@never_cache
@login_required
def offering_export(request, offering_id, fmt):
    offering = _offering(request.user, offering_id)
    return _export(attendees.offering_list(offering), fmt, request)


@never_cache
@login_required
def event_export(request, event_id, fmt):
    event = _event(request.user, event_id)
    return _export(attendees.event_list(event), fmt, request)


# The query parameter that names the row just marked, after a round trip without JavaScript.
MARKED = "gemeld"


def _checkin_page(request, attendee_list, *, toggle_url):
    search = CheckinSearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    rows = attendee_list.confirmed
    if query:
        folded = query.casefold()
        rows = [
            row
            for row in rows
            if folded in row.name.casefold() or folded in row.organisation.casefold()
        ]
    # Back from marking someone without JavaScript: their button has the focus again (autofocus)
    # and the status line says what changed.
    marked_pk = request.GET.get(MARKED, "")
    marked = next((row for row in rows if str(row.pk) == marked_pk), None)
    render_toggle = CheckinToggleForm.row_renderer(
        action=toggle_url,
        next_url=_without_marked(request.get_full_path()),
        csrf_token=get_token(request),
        focused_pk=marked.pk if marked else None,
    )
    return render(
        request,
        "registrations/staff/checkin.html",
        {
            "list": attendee_list,
            "event": attendee_list.event,
            "offering": attendee_list.offering,
            "rows": rows,
            # Each row with the form of its button.
            "toggles": [(row, render_toggle(row)) for row in rows],
            "marked": marked,
            "query": query,
            "search": search,
        },
    )


def _without_marked(url):
    parts = urlsplit(url)
    query = QueryDict(parts.query, mutable=True)
    query.pop(MARKED, None)
    return urlunsplit(parts._replace(query=query.urlencode(), fragment=""))


def _toggle(request, model, queryset, *, back):
    form = CheckinToggleForm(request.POST)
    if not form.is_valid():
        return HttpResponse(status=400)
    pk = form.cleaned_data["pk"]
    if not queryset.filter(pk=pk).exists():
        return HttpResponse(status=404)
    present = form.marks_present()
    attendees.toggle_presence(model, pk, present=present)
    if request.headers.get("accept", "").startswith("application/json"):
        return JsonResponse({"pk": pk, "present": present})
    next_url = form.cleaned_data["next"]
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = back
    next_url = _without_marked(next_url)
    separator = "&" if "?" in next_url else "?"
    # No #row fragment: browsers skip autofocus on a page opened at a fragment, and the
    # focused button is scrolled into view anyway.
    return redirect(f"{next_url}{separator}{urlencode({MARKED: pk})}")


@never_cache
@login_required
def offering_checkin(request, offering_id):
    offering = _offering(request.user, offering_id)
    if request.method == "POST":
        return _toggle(
            request,
            SessionChoice,
            SessionChoice.objects.filter(
                offering=offering, status=Status.CONFIRMED, registration__status=Status.CONFIRMED
            ),
            back=request.path,
        )
    return _checkin_page(request, attendees.offering_list(offering), toggle_url=request.path)


@never_cache
@login_required
def event_checkin(request, event_id):
    event = _event(request.user, event_id)
    if request.method == "POST":
        return _toggle(
            request,
            Registration,
            event.registrations.filter(status=Status.CONFIRMED),
            back=request.path,
        )
    return _checkin_page(request, attendees.event_list(event), toggle_url=request.path)


@never_cache
@login_required
def offering_cue_card(request, offering_id):
    """What a chair needs to introduce a session: who leads it, who is coming, and the
    participants' questions, printable on one A5 card."""
    offering = _offering(request.user, offering_id)
    return render(
        request,
        "registrations/staff/cue_card.html",
        {
            "list": attendees.offering_list(offering),
            "event": offering.event,
            "offering": offering,
            "sign_in_url": reverse("registrations:offering_attendees", args=[offering.pk]),
        },
    )


@never_cache
@login_required
@permission_required("registrations.view_registration", raise_exception=True)
def event_overview(request, event_id):
    """Fill rates, waiting lists and the mix of participants, for organisers."""
    event = get_object_or_404(Event.objects.select_related("venue"), pk=event_id)
    status_counts = Counter(event.registrations.values_list("status", flat=True))
    offerings = (
        SessionOffering.objects.filter(event=event)
        .select_related("session")
        .annotate(
            confirmed=Count("choices", filter=Q(choices__status=Status.CONFIRMED)),
            waiting=Count("choices", filter=Q(choices__status=Status.WAITING)),
            cancelled=Count("choices", filter=Q(choices__status=Status.CANCELLED)),
        )
        .order_by("order", "session__order", "pk")
    )
    rounds = event.rounds.order_by(*BLOCK_ORDER).prefetch_related(
        Prefetch("offerings", queryset=offerings)
    )
    role_rows = (
        SessionChoice.objects.filter(offering__event=event, status=Status.CONFIRMED)
        .values("offering_id", "registration__role")
        .annotate(n=Count("pk"))
    )
    roles_by_offering = {}
    for row in role_rows:
        roles_by_offering.setdefault(row["offering_id"], {})[row["registration__role"]] = row["n"]
    role_choices = Registration.Role.choices
    event_roles = Counter(
        event.registrations.filter(status=Status.CONFIRMED).values_list("role", flat=True)
    )
    reservations = {}
    for reservation in event.seat_reservations.order_by("role"):
        reservations.setdefault(reservation.offering_id, []).append(reservation)
    event_reservations = [
        {
            "reservation": reservation,
            "seats": reservation.reserved_seats(event.capacity),
            "held": event_roles.get(reservation.role, 0),
        }
        for reservation in reservations.get(None, [])
    ]
    round_rows = []
    for round_ in rounds:
        lines = []
        for offering in round_.offerings.all():
            mix = roles_by_offering.get(offering.pk, {})
            lines.append(
                {
                    "offering": offering,
                    "fill": offering.confirmed,
                    "roles": [mix.get(value, 0) for value, _label in role_choices],
                    "reservations": [
                        {
                            "reservation": reservation,
                            "seats": reservation.reserved_seats(offering.capacity),
                            "held": mix.get(reservation.role, 0),
                        }
                        for reservation in reservations.get(offering.pk, [])
                    ],
                }
            )
        round_rows.append(
            {
                "round": round_,
                "lines": lines,
                "confirmed": sum(line["offering"].confirmed for line in lines),
                "waiting": sum(line["offering"].waiting for line in lines),
                "capacity": sum(line["offering"].capacity or 0 for line in lines),
            }
        )
    return render(
        request,
        "registrations/staff/overview.html",
        {
            **_person_search(request, event),
            "event": event,
            "confirmed": status_counts.get(Status.CONFIRMED, 0),
            "waiting": status_counts.get(Status.WAITING, 0),
            "cancelled": status_counts.get(Status.CANCELLED, 0),
            "rounds": round_rows,
            "role_labels": [label for _value, label in role_choices],
            "event_roles": [event_roles.get(value, 0) for value, _label in role_choices],
            "event_reservations": event_reservations,
        },
    )


def _person_search(request, event):
    """For organisers who may change registrations: the overview's search for one
    person, with a link to the page where they act on that person's places."""
    if not request.user.has_perm("registrations.change_registration"):
        return {}
    search = PersonSearchForm(request.GET)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    found = []
    if query:
        found = list(
            event.registrations.filter(
                Q(name__icontains=query) | Q(email__icontains=query)
            ).order_by("name", "pk")[:PERSON_SEARCH_LIMIT]
        )
    return {"person_search": search, "person_query": query, "people_found": found}


PERSON_SEARCH_LIMIT = 25


@never_cache
@login_required
@permission_required("registrations.view_registration", raise_exception=True)
def event_registrations_csv(request, event_id):
    event = get_object_or_404(Event, pk=event_id)
    delimiter = "," if request.GET.get("delimiter") == "comma" else ";"
    response = HttpResponse(
        attendees.all_registrations_csv(event, delimiter=delimiter),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="aanmeldingen-{event.slug}.csv"'
    return response
