"""Forms of the programme editor (events/programme_editor.py): one small form per thing
edited in place. Choices come from the page's own lists, so rendering a form queries nothing.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from sitewide.text import PlainTextField

from .forms import TIME_FORMATS
from .models import ProgrammeBlock, Round, SessionOffering


def time_field(label, required=True):
    return forms.TimeField(
        label=label,
        required=required,
        input_formats=TIME_FORMATS,
        widget=forms.TimeInput(format="%H:%M", attrs={"size": 5, "inputmode": "numeric"}),
        error_messages={"invalid": _("Enter a time such as 14:30.")},
    )


def seats_field():
    return forms.IntegerField(
        label=_("seats"),
        required=False,
        min_value=0,
        max_value=100000,
        widget=forms.NumberInput(attrs={"size": 4}),
        help_text=_("Empty: no limit."),
        error_messages={"invalid": _("Enter a number of seats, or leave it empty.")},
    )


def place_field():
    return PlainTextField(label=_("table or room"), max_length=100, required=False)


class TimedItemForm(forms.ModelForm):
    """A programme block or a round: times, title and place in the venue."""

    starts_at = time_field(_("starts at"))
    ends_at = time_field(_("ends at"), required=False)
    title = PlainTextField(label=_("title"), max_length=200)
    location = PlainTextField(label=_("place in the venue"), max_length=100, required=False)
    description = PlainTextField(
        label=_("description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, event, **kwargs):
        super().__init__(*args, **kwargs)
        self.event = event
        self.instance.event = event
        if not event.is_multi_day:
            del self.fields["day"]


class BlockForm(TimedItemForm):
    class Meta:
        model = ProgrammeBlock
        fields = ["day", "starts_at", "ends_at", "kind", "title", "location", "description"]


class RoundForm(TimedItemForm):
    class Meta:
        model = Round
        fields = ["day", "starts_at", "ends_at", "title", "location", "description"]

    def clean_title(self):
        title = self.cleaned_data["title"]
        others = Round.objects.filter(event=self.event, title__iexact=title)
        if others.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("This event already has a round with this title."))
        return title


def kind_field(kinds):
    return forms.TypedChoiceField(
        label=_("kind of session"),
        choices=[("", "---------"), *[(kind.pk, kind.shown) for kind in kinds]],
        coerce=int,
        required=False,
        empty_value=None,
    )


class SessionTextForm(forms.Form):
    """A session's title, kind and texts, edited in place."""

    title = PlainTextField(label=_("title"), max_length=250)
    theme = PlainTextField(label=_("theme"), max_length=200, required=False)
    summary = PlainTextField(
        label=_("short text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown on the session card."),
    )
    description = PlainTextField(
        label=_("full text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Separate paragraphs with an empty line."),
    )

    def __init__(self, *args, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"] = kind_field(kinds)
        self.order_fields(["title", "kind", "theme", "summary", "description"])

    @classmethod
    def initial_for(cls, session):
        return {
            "title": session.title,
            "kind": session.kind_id,
            "theme": session.theme,
            "summary": session.summary,
            "description": session.description,
        }


class NewSessionForm(forms.Form):
    """A new session straight into a round: its title, kind, short text, seats and room."""

    title = PlainTextField(label=_("title"), max_length=250)
    summary = PlainTextField(
        label=_("short text"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    capacity = seats_field()
    location = place_field()

    def __init__(self, *args, kinds, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"] = kind_field(kinds)
        self.order_fields(["title", "kind", "summary", "capacity", "location"])


def round_choices(rounds, blank=None):
    choices = [(round_.pk, f"{round_.title} ({round_.starts_at:%H:%M})") for round_ in rounds]
    return [("", blank), *choices] if blank else choices


class OfferingForm(forms.ModelForm):
    """An offering's round, seats and room; a session across rounds names its last one."""

    capacity = seats_field()
    location = place_field()

    class Meta:
        model = SessionOffering
        fields = ["round", "last_round", "capacity", "location"]

    def __init__(self, *args, rounds, **kwargs):
        super().__init__(*args, **kwargs)
        # Choices from the page's rounds: rendering asks the database nothing.
        self.fields["round"].choices = round_choices(rounds)
        self.fields["round"].empty_label = None
        self.fields["last_round"].choices = round_choices(rounds, blank=_("only this round"))
        self.fields["last_round"].label = _("runs on until the end of")
        self.fields["last_round"].help_text = ""

    def clean(self):
        cleaned = super().clean()
        new_round = cleaned.get("round")
        if (
            new_round
            and new_round.pk != self.initial.get("round")
            and SessionOffering.objects.filter(session=self.instance.session_id, round=new_round)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            self.add_error("round", _("This session is already offered in this round."))
        return cleaned


class OfferExistingForm(forms.Form):
    """An existing session offered in one more round: one choice, one submission."""

    def __init__(self, *args, sessions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["session"] = forms.TypedChoiceField(
            label=_("existing session"),
            choices=[("", "---------"), *[(session.pk, session.title) for session in sessions]],
            coerce=int,
            error_messages={"invalid_choice": _("Choose a session of this event.")},
        )


class PersonForm(forms.Form):
    """A leader (or other role) by name and organisation: found, or created on the spot."""

    name = PlainTextField(label=_("name"), max_length=200)
    organisation = PlainTextField(label=_("organisation"), max_length=200, required=False)

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"] = forms.ChoiceField(
            label=_("role"), choices=[(role.code, role.shown) for role in roles]
        )
        self.fields["name"].widget.attrs.update({"autocomplete": "off", "data-people": "speakers"})


class ModeratorForm(forms.Form):
    """A user who sees this offering's attendee list: by user name, e-mail or full name."""

    person = PlainTextField(
        label=_("user name, e-mail or name"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "data-people": "users"}),
    )
