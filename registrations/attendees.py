"""Attendee lists: who may see them, what they hold, and their exports.

A list belongs to a session offering (a session in one round) or to a whole
event (the plenary list). Organisers (users with the ``view_registration``
permission) see every list; moderators see the lists of the events and
offerings they are assigned to in the admin, and nothing else.
"""

import csv
import io
from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from sitewide.text import plain_text

from .models import ExportColumns, SessionChoice, Status

# Dutch surname particles ("tussenvoegsels"), ignored when sorting by surname.
PARTICLES = {
    "van", "de", "der", "den", "het", "ter", "ten", "te", "'t", "in", "op", "d'", "la", "le",
    "von", "zu", "da", "di", "du", "del", "des", "dos", "el", "al", "bin", "ben",
}  # fmt: skip


def surname_key(name):
    """Sort key for 'Jos van der Lans' under L, as Dutch lists are sorted."""
    words = name.split()
    if len(words) <= 1:
        return (name.casefold(), name.casefold())
    rest = words[1:]
    while len(rest) > 1 and rest[0].casefold() in PARTICLES:
        rest = rest[1:]
    return (" ".join(rest).casefold(), name.casefold())


def can_see_event_list(user, event):
    if not user.is_authenticated or not user.is_active:
        return False
    if user.has_perm("registrations.view_registration"):
        return True
    return event.moderators.filter(pk=user.pk).exists()


def can_see_offering_list(user, offering):
    if not user.is_authenticated or not user.is_active:
        return False
    if user.has_perm("registrations.view_registration"):
        return True
    return (
        offering.moderators.filter(pk=user.pk).exists()
        or offering.event.moderators.filter(pk=user.pk).exists()
    )


@dataclass
class Row:
    """One line of an attendee list, whatever it is a list of."""

    pk: int
    name: str
    organisation: str
    function: str
    role: str
    question: str
    present: bool
    status: str

    @property
    def sort_key(self):
        return surname_key(self.name)


@dataclass
class AttendeeList:
    title: str
    event: object
    offering: object
    confirmed: list
    waiting: list

    @property
    def questions(self):
        return [row for row in self.confirmed if row.question]

    @property
    def present_count(self):
        return sum(1 for row in self.confirmed if row.present)

    @property
    def absent_count(self):
        return len(self.confirmed) - self.present_count


def _row_from_registration(registration, *, present):
    # One-line text, also for rows stored before the forms dropped control characters.
    return Row(
        pk=registration.pk,
        name=plain_text(registration.name),
        organisation=plain_text(registration.organisation),
        function=plain_text(registration.function),
        role=registration.get_role_display(),
        question=registration.question,
        present=present,
        status=registration.status,
    )


def offering_list(offering):
    """Confirmed attendees by surname, and the waiting list in queue order."""
    choices = (
        SessionChoice.objects.filter(offering=offering)
        .exclude(status=Status.CANCELLED)
        .filter(registration__status__in=[Status.CONFIRMED, Status.WAITING])
        .select_related("registration")
        .order_by("created_at", "pk")
    )
    confirmed, waiting = [], []
    for choice in choices:
        row = _row_from_registration(choice.registration, present=bool(choice.checked_in_at))
        row.pk = choice.pk
        if choice.status == Status.CONFIRMED and choice.registration.status == Status.CONFIRMED:
            confirmed.append(row)
        else:
            waiting.append(row)
    confirmed.sort(key=lambda row: row.sort_key)
    return AttendeeList(
        title=offering.session.title,
        event=offering.event,
        offering=offering,
        confirmed=confirmed,
        waiting=waiting,
    )


def event_list(event):
    """The plenary list: every confirmed registration of the event, and its waiting list."""
    registrations = event.registrations.exclude(status=Status.CANCELLED).order_by(
        "created_at", "pk"
    )
    confirmed = [
        _row_from_registration(r, present=bool(r.checked_in_at))
        for r in registrations
        if r.status == Status.CONFIRMED
    ]
    waiting = [
        _row_from_registration(r, present=False)
        for r in registrations
        if r.status == Status.WAITING
    ]
    confirmed.sort(key=lambda row: row.sort_key)
    return AttendeeList(
        title=event.title, event=event, offering=None, confirmed=confirmed, waiting=waiting
    )


def toggle_presence(model, pk, *, present):
    """Mark a registration (event list) or a session choice (session list) present or not."""
    value = timezone.now() if present else None
    model.objects.filter(pk=pk).update(checked_in_at=value)


# What a spreadsheet would take for the start of a formula (CSV/formula injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value):
    """Export text without the control characters that make a workbook unreadable: forms
    drop them now (sitewide/text.py), rows stored before may still hold them."""
    return plain_text(value, multiline=True) if isinstance(value, str) else value


def _cell(value):
    """A CSV value: text that a spreadsheet would run as a formula is quoted."""
    value = _text(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _append(sheet, values):
    """Add a row of cells; text is always a text cell, never a formula, and stays text
    when edited in Excel (the invisible quote prefix), without a visible apostrophe."""
    sheet.append([_text(value) for value in values])
    for cell in sheet[sheet.max_row] if values else ():
        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
            cell.data_type = "s"
            cell.quotePrefix = True


# The export's columns in their order, with their width in Excel; the number and the status
# are always there, the others as the moderator chose (ExportColumns).
EXPORT_LAYOUT = [
    ("number", 6), ("name", 28), ("organisation", 28), ("function", 22), ("role", 18),
    ("status", 14), ("present", 10), ("question", 50),
]  # fmt: skip
ALWAYS = {"number", "status"}


def _export_keys(columns):
    chosen = set(ExportColumns.Column.values if columns is None else columns) | ALWAYS
    return [key for key, _width in EXPORT_LAYOUT if key in chosen]


def _headers(keys):
    labels = {
        "number": _("No."),
        "name": _("Name"),
        "organisation": _("Organisation"),
        "function": _("Function"),
        "role": _("Takes part as"),
        "status": _("Status"),
        "present": _("Present"),
        "question": _("Question for the session leader"),
    }
    return [labels[key] for key in keys]


def _lines(attendee_list, keys):
    # Only a confirmed participant can be present: the waiting list has no answer there.
    groups = [
        (attendee_list.confirmed, _("confirmed"), True),
        (attendee_list.waiting, _("waiting list"), False),
    ]
    for rows, status, can_be_present in groups:
        for number, row in enumerate(rows, start=1):
            present = (_("yes") if row.present else _("no")) if can_be_present else ""
            values = {
                "number": number,
                "name": row.name,
                "organisation": row.organisation,
                "function": row.function,
                "role": row.role,
                "status": status,
                "present": present,
                "question": row.question,
            }
            yield [values[key] for key in keys]


def as_csv(attendee_list, *, delimiter=";", columns=None):
    """UTF-8 with a byte-order mark, so Excel shows accents; ';' suits Dutch Excel.
    `columns`: the chosen ExportColumns.Column values (None: all)."""
    keys = _export_keys(columns)
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(_headers(keys))
    writer.writerows([_cell(value) for value in line] for line in _lines(attendee_list, keys))
    return buffer.getvalue().encode("utf-8")


def as_xlsx(attendee_list, *, columns=None):
    keys = _export_keys(columns)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Participants")[:31]
    _append(sheet, [attendee_list.event.title])
    subtitle = date_format(attendee_list.event.start_date, "l j F Y")
    if attendee_list.offering:
        offering = attendee_list.offering
        title = offering.session.title
        if offering.session.kind_id:
            title = f"{title} ({offering.session.kind})"
        subtitle = f"{title} – {offering.round.title}, {subtitle}"
    _append(sheet, [subtitle])
    _append(sheet, [])
    _append(sheet, _headers(keys))
    for cell in sheet[4]:
        cell.font = Font(bold=True)
    sheet["A1"].font = Font(bold=True, size=14)
    for line in _lines(attendee_list, keys):
        _append(sheet, line)
    sheet.freeze_panes = "A5"
    widths = dict(EXPORT_LAYOUT)
    for index, key in enumerate(keys, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = widths[key]
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def all_registrations_csv(event, *, delimiter=";"):
    """Every registration of an event with its choices: for organisers only."""
    registrations = event.registrations.order_by("created_at", "pk").prefetch_related(
        Prefetch(
            "choices",
            queryset=SessionChoice.objects.select_related(
                "offering__session", "offering__round"
            ).order_by("round__starts_at", "pk"),
        )
    )
    rounds = list(event.rounds.order_by("day", "starts_at", "order", "pk"))
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(
        _cell(value) for value in
        [_("Name"), _("E-mail address"), _("Organisation"), _("Function"), _("Takes part as"),
         _("Status"), _("Registered at"), _("Cancelled at"), _("Present"),
         *[round_.title for round_ in rounds], _("Question for the session leader")]
    )  # fmt: skip
    for registration in registrations:
        by_round = {}
        for choice in registration.choices.all():
            if choice.status == Status.CANCELLED:
                continue
            label = choice.offering.session.title
            if choice.status == Status.WAITING:
                label += f" ({_('waiting list')})"
            by_round[choice.round_id] = label
        writer.writerow(
            _cell(value)
            for value in [
                plain_text(registration.name),
                registration.email,
                plain_text(registration.organisation),
                plain_text(registration.function),
                registration.get_role_display(),
                registration.get_status_display(),
                timezone.localtime(registration.created_at).strftime("%Y-%m-%d %H:%M"),
                timezone.localtime(registration.cancelled_at).strftime("%Y-%m-%d %H:%M")
                if registration.cancelled_at
                else "",
                _("yes") if registration.checked_in_at else _("no"),
                *[by_round.get(round_.pk, "") for round_ in rounds],
                registration.question,
            ]
        )
    return buffer.getvalue().encode("utf-8")
