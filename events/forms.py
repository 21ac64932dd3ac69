"""Organiser forms of the event admin: programme text import, sheet import, copy."""

from django import forms
from django.contrib.admin import widgets
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sitewide.text import PlainTextField

from . import programme_import
from .models import Event, ProgrammeBlock
from .programme_import import ROUND
from .services import check_registration_window

TIME_FORMATS = ["%H:%M", "%H.%M", "%H:%M:%S"]
PARSE_NOTES = {
    "no_time": _("No time at the start of the line: skipped."),
    "no_title": _("A time without a title: skipped."),
    "end_before_start": _("The end time is not after the start time: skipped."),
    "bad_day": _("Unknown day: skipped."),
}


class ProgrammeTextForm(forms.Form):
    text = PlainTextField(
        label=_("Programme as text"),
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        max_length=20000,
        help_text=_(
            "One part of the programme per line, as in the invitation, for example "
            "“14:00 – 14:30 ontvangst”, “15.00 - 15.45 uur ronde 1 tafelsessies” or "
            "“16.00 uur: ronde 2”. A line with the word “ronde” becomes a round."
        ),
    )


def item_choices():
    return [(programme_import.ROUND, _("round (sessions side by side)"))] + [
        (kind, label) for kind, label in ProgrammeBlock.Kind.choices
    ]


class ProgrammeLineForm(forms.Form):
    """One pasted line and the block or round it becomes, as the organiser corrects it."""

    source = forms.CharField(widget=forms.HiddenInput, required=False)
    note = forms.CharField(widget=forms.HiddenInput, required=False)
    add = forms.BooleanField(label=_("Add"), required=False)
    kind = forms.ChoiceField(label=_("Becomes"), choices=item_choices)
    day = forms.DateField(
        label=_("day"), required=False, widget=forms.DateInput(attrs={"size": 10})
    )
    starts_at = forms.TimeField(
        label=_("starts at"),
        required=False,
        input_formats=TIME_FORMATS,
        widget=forms.TimeInput(format="%H:%M", attrs={"size": 5}),
    )
    ends_at = forms.TimeField(
        label=_("ends at"),
        required=False,
        input_formats=TIME_FORMATS,
        widget=forms.TimeInput(format="%H:%M", attrs={"size": 5}),
    )
    title = PlainTextField(
        label=_("title"), max_length=200, required=False, widget=forms.TextInput(attrs={"size": 40})
    )

    def __init__(self, *args, multi_day=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not multi_day:
            del self.fields["day"]

    @property
    def note_text(self):
        return PARSE_NOTES.get(self["note"].value() or "", "")

    def clean(self):
        data = super().clean()
        if not data.get("add"):
            return data
        if not data.get("starts_at"):
            self.add_error("starts_at", _("Fill in the start time, or untick “Add”."))
        if not data.get("title"):
            self.add_error("title", _("Fill in a title, or untick “Add”."))
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The end time must be after the start time."))
        return data


class BaseProgrammeLineFormSet(forms.BaseFormSet):
    def __init__(self, *args, event, **kwargs):
        self.event = event
        super().__init__(*args, form_kwargs={"multi_day": event.is_multi_day}, **kwargs)

    def clean(self):
        taken = {title.lower() for title in self.event.rounds.values_list("title", flat=True)}
        for form in self.forms:
            data = getattr(form, "cleaned_data", {})
            if not (data.get("add") and data.get("title")) or data.get("kind") != ROUND:
                continue
            title = data["title"].lower()
            if title in taken:
                form.add_error(
                    "title",
                    _("The event already has a round with this title; give each round its own."),
                )
            taken.add(title)
        if not any(self.errors) and not self.chosen():
            raise ValidationError(_("Tick “Add” for at least one line."))

    def chosen(self):
        return [form.cleaned_data for form in self.forms if form.cleaned_data.get("add")]


ProgrammeLineFormSet = forms.formset_factory(
    ProgrammeLineForm, formset=BaseProgrammeLineFormSet, extra=0, max_num=300, validate_max=True
)


def line_initial(lines, event):
    """Initial data for ProgrammeLineFormSet from parsed lines."""
    initial = []
    for line in lines:
        kind = programme_import.ROUND if line.item_type == programme_import.ROUND else line.kind
        row = {
            "source": line.text,
            "note": line.error,
            "add": line.is_item,
            "kind": kind or programme_import.DEFAULT_KIND,
            "starts_at": line.starts_at,
            "ends_at": line.ends_at,
            "title": line.title,
        }
        if event.is_multi_day:
            row["day"] = line.day
        initial.append(row)
    return initial


class SessionSheetForm(forms.Form):
    sheet = forms.FileField(
        label=_("Sheet (.xlsx or .csv)"),
        help_text=_("One session per row, with the headings of the template in the first row."),
    )


SHEET_SALT = "events.session_sheet"


class SessionSheetSaveForm(forms.Form):
    """The checked rows, signed, carried from the preview to the save."""

    rows = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, event, **kwargs):
        self.event = event
        super().__init__(*args, **kwargs)

    @staticmethod
    def sign(event, rows):
        return signing.dumps(
            {"event": event.pk, "rows": [row.as_data() for row in rows]},
            salt=SHEET_SALT,
            compress=True,
        )

    def clean_rows(self):
        try:
            payload = signing.loads(self.cleaned_data["rows"], salt=SHEET_SALT, max_age=86400)
        except signing.BadSignature:
            raise ValidationError(_("The preview has expired; upload the sheet again.")) from None
        if payload.get("event") != self.event.pk:
            raise ValidationError(_("The preview has expired; upload the sheet again."))
        return payload["rows"]


class CopyEventForm(forms.Form):
    """Next year's copy as proposed; what the organiser changes is used instead."""

    start_date = forms.DateField(label=_("date"), widget=widgets.AdminDateWidget)
    title = PlainTextField(
        label=_("title"), max_length=200, widget=forms.TextInput(attrs={"class": "vTextField"})
    )
    slug = forms.SlugField(
        label=_("web address (slug)"),
        max_length=200,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text=_("The last part of the event's web address."),
    )
    registration_opens_at = forms.SplitDateTimeField(
        label=_("registration opens"), required=False, widget=widgets.AdminSplitDateTime
    )
    registration_closes_at = forms.SplitDateTimeField(
        label=_("registration closes"), required=False, widget=widgets.AdminSplitDateTime
    )

    def __init__(self, *args, event, **kwargs):
        self.event = event
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.label = capfirst(field.label)
        # The admin's split widget labels its two boxes with plain text only.
        for name in ("registration_opens_at", "registration_closes_at"):
            label = capfirst(self.fields[name].label)
            date_box, time_box = self.fields[name].widget.widgets
            date_box.attrs["aria-label"] = f"{label}: {gettext('Date:').rstrip(':')}"
            time_box.attrs["aria-label"] = f"{label}: {gettext('Time:').rstrip(':')}"
        self.fields["start_date"].help_text = _(
            "Proposed: the same weekday in the same week of next year. Was %(date)s."
        ) % {"date": event.start_date.strftime("%d-%m-%Y")}

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if Event.objects.filter(slug=slug).exists():
            raise ValidationError(
                _("Another event already has this web address."), code="slug_taken"
            )
        return slug

    def clean(self):
        data = super().clean()
        start_date = data.get("start_date")
        if not start_date:
            return data
        # A new date with the proposed window untouched: the window moves with the date.
        shift = start_date - self.initial["start_date"]
        for name in ("registration_opens_at", "registration_closes_at"):
            if shift and name not in self.changed_data and data.get(name):
                data[name] += shift
        try:
            check_registration_window(
                start_date,
                self.event.start_time,
                data.get("registration_opens_at"),
                data.get("registration_closes_at"),
            )
        except ValidationError as error:
            self.add_error(None, error)
        return data
