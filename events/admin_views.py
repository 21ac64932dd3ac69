"""The event admin's organiser pages: programme from text, sessions from a sheet, copy.

Each is a view of EventAdmin (see EventAdmin.get_urls), with the admin's look and its
permissions: importing changes the event, copying adds one.
"""

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sitewide.admin import primary_key

from . import page_scopes, programme_import, session_sheet
from .forms import (
    CopyEventForm,
    ProgrammeLineFormSet,
    ProgrammeTextForm,
    SessionSheetForm,
    SessionSheetSaveForm,
    line_initial,
)
from .models import Event, ProgrammeBlock, Round
from .services import copy_as_draft, copy_summary, propose_copy

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _event_for(model_admin, request, object_id, permission):
    object_id = primary_key(object_id)
    if object_id is None:
        raise Http404
    event = get_object_or_404(Event.objects.select_related("venue", "series"), pk=object_id)
    allowed = {
        "change": model_admin.has_change_permission,
        "add": model_admin.has_add_permission,
    }[permission]
    if permission == "add":
        if not (allowed(request) and model_admin.has_view_permission(request, event)):
            raise PermissionDenied
    elif not allowed(request, event):
        raise PermissionDenied
    return event


def _context(model_admin, request, event, title, **extra):
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": event,
        "event": event,
        "title": title,
        "change_url": reverse("admin:events_event_change", args=[event.pk]),
        **extra,
    }


def programme_text_import(model_admin, request, object_id):
    """Paste the programme, see per line what it becomes, correct, save."""
    event = _event_for(model_admin, request, object_id, "change")
    text_form = ProgrammeTextForm(request.POST or None)
    formset = None
    if request.method == "POST" and "save" in request.POST:
        formset = ProgrammeLineFormSet(request.POST, event=event, prefix="lines")
        if text_form.is_valid() and formset.is_valid():
            blocks, rounds = _save_programme(event, formset.chosen())
            model_admin.message_user(
                request,
                _("Added to the programme: %(blocks)s and %(rounds)s.")
                % {
                    "blocks": ngettext("%d block", "%d blocks", blocks) % blocks,
                    "rounds": ngettext("%d round", "%d rounds", rounds) % rounds,
                },
                messages.SUCCESS,
            )
            return redirect("admin:events_event_change", event.pk)
    elif request.method == "POST" and text_form.is_valid():
        lines = programme_import.parse_programme(
            text_form.cleaned_data["text"], year=event.start_date.year
        )
        formset = ProgrammeLineFormSet(
            initial=line_initial(lines, event), event=event, prefix="lines"
        )
    existing = {"blocks": event.programme_blocks.count(), "rounds": event.rounds.count()}
    return TemplateResponse(
        request,
        "admin/events/event/programme_import.html",
        _context(
            model_admin,
            request,
            event,
            _("Import the programme from text"),
            text_form=text_form,
            formset=formset,
            existing=existing,
        ),
    )


@transaction.atomic
def _save_programme(event, chosen):
    block_order = max(event.programme_blocks.values_list("order", flat=True), default=0)
    round_order = max(event.rounds.values_list("order", flat=True), default=0)
    blocks, rounds = [], []
    for data in chosen:
        fields = {
            "event": event,
            "day": data.get("day") if event.is_multi_day else None,
            "starts_at": data["starts_at"],
            "ends_at": data.get("ends_at"),
            "title": data["title"],
        }
        if data["kind"] == programme_import.ROUND:
            rounds.append(Round(**fields, order=round_order + len(rounds) + 1))
        else:
            blocks.append(
                ProgrammeBlock(**fields, kind=data["kind"], order=block_order + len(blocks) + 1)
            )
    ProgrammeBlock.objects.bulk_create(blocks)
    Round.objects.bulk_create(rounds)
    page_scopes.event_changed(event.pk)  # bulk_create sends no signals
    return len(blocks), len(rounds)


def session_sheet_import(model_admin, request, object_id):
    """Upload a sheet, see every row checked, save when the whole sheet is right."""
    event = _event_for(model_admin, request, object_id, "change")
    upload_form = SessionSheetForm()
    rows, sheet_errors, save_form = None, [], None
    if request.method == "POST" and "rows" in request.POST:
        save_form = SessionSheetSaveForm(request.POST, event=event)
        if save_form.is_valid():
            rows = [session_sheet.SheetRow.from_data(row) for row in save_form.cleaned_data["rows"]]
            rows = session_sheet.check_rows(event, rows)
            if not any(row.errors for row in rows):
                sessions = session_sheet.save_rows(event, rows)
                model_admin.message_user(
                    request,
                    ngettext(
                        "%(count)d session imported.", "%(count)d sessions imported.", len(sessions)
                    )
                    % {"count": len(sessions)},
                    messages.SUCCESS,
                )
                return redirect("admin:events_event_change", event.pk)
            save_form = None  # something changed since the preview: show the rows again
        else:
            sheet_errors = list(save_form.errors.get("rows", []))
            save_form = None
    elif request.method == "POST":
        upload_form = SessionSheetForm(request.POST, request.FILES)
        if upload_form.is_valid():
            try:
                rows = session_sheet.read_sheet(upload_form.cleaned_data["sheet"])
            except session_sheet.SheetError as error:
                sheet_errors = error.messages
            else:
                rows = session_sheet.check_rows(event, rows)
                if not any(row.errors for row in rows):
                    save_form = SessionSheetSaveForm(
                        initial={"rows": SessionSheetSaveForm.sign(event, rows)}, event=event
                    )
                upload_form = SessionSheetForm()
    error_rows = sum(1 for row in rows or [] if row.errors)
    return TemplateResponse(
        request,
        "admin/events/event/session_import.html",
        _context(
            model_admin,
            request,
            event,
            _("Import sessions from a sheet"),
            upload_form=upload_form,
            rows=rows,
            error_rows=error_rows,
            sheet_errors=sheet_errors,
            save_form=save_form,
            rounds=list(event.rounds.order_by("day", "starts_at", "order", "pk")),
            columns=list(session_sheet.COLUMNS),
            kind_column=session_sheet.KIND_COLUMN,
        ),
    )


def session_sheet_template(model_admin, request, object_id):
    """The empty sheet to fill in, as an .xlsx download."""
    event = _event_for(model_admin, request, object_id, "change")
    response = HttpResponse(content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="sessies-{event.slug}.xlsx"'
    session_sheet.template_workbook().save(response)
    return response


def copy_event(model_admin, request, object_id):
    """Next year's copy: the proposed date, title, address and window, editable."""
    event = _event_for(model_admin, request, object_id, "add")
    proposal = propose_copy(event)
    form = CopyEventForm(request.POST or None, initial=vars(proposal), event=event)
    if request.method == "POST" and form.is_valid():
        copy = copy_as_draft(event, **form.cleaned_data)
        return redirect(reverse("admin:events_event_copied", args=[copy.pk]) + f"?van={event.pk}")
    admin_form = helpers.AdminForm(
        form,
        [(None, {"fields": list(form.fields)})],
        {},
        model_admin=model_admin,
    )
    return TemplateResponse(
        request,
        "admin/events/event/copy_form.html",
        _context(
            model_admin,
            request,
            event,
            _("Copy for next year"),
            adminform=admin_form,
            form=form,
            media=model_admin.media + form.media,
        ),
    )


def copy_done(model_admin, request, object_id):
    """What the copy holds and what the organiser should check."""
    copy = _event_for(model_admin, request, object_id, "change")
    source = Event.objects.filter(pk=primary_key(request.GET.get("van", ""))).first()
    if source is None or not model_admin.has_view_permission(request, source):
        source = copy
    return TemplateResponse(
        request,
        "admin/events/event/copy_done.html",
        _context(
            model_admin,
            request,
            copy,
            _("Copied for next year"),
            source=source,
            summary=copy_summary(copy, source),
        ),
    )
