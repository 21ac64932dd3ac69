import copy

from django import forms
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.text import plain_text_formfield

from .models import Registration

NO_SESSION = "0"


def seats_label(capacity, taken):
    """'5 seats left', 'full, you join the waiting list', or '' without a limit."""
    if capacity is None:
        return ""
    left = max(capacity - taken, 0)
    if left > 0:
        return ngettext("%(count)d seat left", "%(count)d seats left", left) % {"count": left}
    return str(_("full, you join the waiting list"))


def offering_label(offering, *, seat_slot=False):
    """'Title · leaders · 5 seats left'. With `seat_slot`, the seats are a slot that the
    view fills in for each response (config.pagecache.SlottedPage)."""
    if seat_slot and offering.capacity is not None:
        seats = mark_safe(f"<!--slot:seats:{offering.pk}-->")  # noqa: S308 - our own marker
    else:
        seats = seats_label(offering.capacity, offering.seats_taken)
    leaders = ", ".join(role.speaker.name for role in offering.session.roles.all())
    return format_html(
        '<span class="choice__title">{}</span>{}{}',
        offering.session.title,
        format_html('<span class="choice__meta">{}</span>', leaders) if leaders else "",
        format_html('<span class="choice__seats">{}</span>', seats) if seats else "",
    )


class KeptChoiceField(forms.ChoiceField):
    """A choice field whose choices are shared by its copies: the choices of kept round
    fields are never changed, and copying their labels cost more than the rest."""

    def __deepcopy__(self, memo):
        result = forms.Field.__deepcopy__(self, memo)
        result._choices = self._choices
        return result


class RoundFields:
    """The radio groups of a programme's rounds: one required choice per round, a session
    or explicitly none.

    Building them (labels with leaders, error messages) costs more than the rest of a
    form, so the registration form keeps them per programme and language and copies
    them into each form (``RoundChoicesMixin.add_round_fields(..., prepared=...)``).
    """

    def __init__(self, rounds, *, seat_slots=False):
        self.fields = {}
        self.round_pks = {}
        self.session_by_offering = {}
        for round_ in rounds:
            name = f"round_{round_.pk}"
            offerings = list(round_.offerings.all())
            self.session_by_offering.update(
                {offering.pk: offering.session_id for offering in offerings}
            )
            choices = [
                (str(offering.pk), offering_label(offering, seat_slot=seat_slots))
                for offering in offerings
            ]
            choices.append((NO_SESSION, _("No session in this round")))
            times = round_.starts_at.strftime("%H:%M")
            if round_.ends_at:
                times += f"–{round_.ends_at:%H:%M}"
            self.fields[name] = KeptChoiceField(
                label=format_html('{} <span class="legend__time">{}</span>', round_.title, times),
                choices=choices,
                widget=forms.RadioSelect,
                error_messages={
                    "required": _("Choose a session for %(round)s, or 'no session'.")
                    % {"round": round_.title},
                    "invalid_choice": _("Choose one of the sessions shown for %(round)s.")
                    % {"round": round_.title},
                },
            )
            self.round_pks[name] = round_.pk


class RoundChoicesMixin:
    """One required radio group per round: a session, or explicitly none."""

    def add_round_fields(self, rounds, *, initial=None, seat_slots=False, prepared=None):
        """Add the rounds' radio groups; `prepared` (RoundFields of the same rounds)
        saves building them."""
        initial = initial or {}
        prepared = prepared or RoundFields(rounds, seat_slots=seat_slots)
        self.round_fields = list(prepared.fields)
        self.session_by_offering = prepared.session_by_offering
        for name, field in prepared.fields.items():
            field = copy.deepcopy(field)
            field.initial = initial.get(prepared.round_pks[name])
            self.fields[name] = field

    @property
    def round_bound_fields(self):
        return [self[name] for name in self.round_fields]

    def chosen_offering_ids(self):
        ids = []
        for name in self.round_fields:
            value = self.cleaned_data.get(name)
            if value and value != NO_SESSION:
                ids.append(int(value))
        return ids

    def clean_rounds(self, cleaned_data):
        """The same session may not be chosen in two rounds."""
        seen = set()
        for name in self.round_fields:
            value = cleaned_data.get(name)
            if not value or value == NO_SESSION:
                continue
            session_id = self.session_by_offering[int(value)]
            if session_id in seen:
                self.add_error(
                    name,
                    forms.ValidationError(
                        _("You already chose this session in another round. Choose another one."),
                        code="same_session_twice",
                    ),
                )
            seen.add(session_id)


# Class names of the form styles (static/css/forms.css) per kind of widget.
WIDGET_CLASSES = {
    "text": "textinput form-control",
    "email": "emailinput form-control",
    "textarea": "textarea form-control",
    "select": "select form-select",
    "checkbox": "checkboxinput form-check-input",
}


class AccessibleErrorsMixin:
    """Fields rendered by templates/registrations/includes/, each pointing at its message.

    Radio groups are written out by radio_field.html; the other widgets get their
    class names here, and a field in error gets aria-describedby and aria-invalid.
    """

    def style_widgets(self):
        for field in self.fields.values():
            widget = field.widget
            kind = (
                "textarea"
                if isinstance(widget, forms.Textarea)
                else "select"
                if isinstance(widget, forms.Select)
                else getattr(widget, "input_type", "")
            )
            if kind in WIDGET_CLASSES:
                widget.attrs["class"] = WIDGET_CLASSES[kind]

    def mark_errors(self):
        for name in self.errors:
            if name not in self.fields:
                continue
            widget = self.fields[name].widget
            if "is-invalid" not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
            bound = self[name]
            described = [
                f"error_{index}_{bound.auto_id}" for index in range(1, len(self.errors[name]) + 1)
            ]
            if self.fields[name].help_text:
                described.insert(0, f"{bound.auto_id}_helptext")
            widget.attrs["aria-describedby"] = " ".join(described)
            widget.attrs["aria-invalid"] = "true"

    def full_clean(self):
        super().full_clean()
        if self.is_bound:
            self.mark_errors()


class RegistrationForm(AccessibleErrorsMixin, RoundChoicesMixin, forms.ModelForm):
    # Honeypot: hidden from people (CSS and aria-hidden, out of the tab order), filled in by
    # bots that fill every field. A filled one is answered as usual but stores nothing.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )
    consent = forms.BooleanField(
        label=_(
            "I agree that my details are used for this event as described in the privacy statement."
        ),
        error_messages={"required": _("Agree to the privacy statement to register.")},
    )
    role = KeptChoiceField(
        label=_("I take part as"),
        choices=[(value, capfirst(label)) for value, label in Registration.Role.choices],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose how you take part."),
            "invalid_choice": _("Choose how you take part."),
        },
    )

    class Meta:
        model = Registration
        fields = ["name", "email", "organisation", "function", "role", "question"]
        # Name, organisation, function and question drop control characters (config/text.py).
        formfield_callback = plain_text_formfield
        labels = {
            "name": _("Name"),
            "email": _("E-mail address"),
            "organisation": _("Organisation (optional)"),
            "function": _("Function (optional)"),
            "question": _("Question or practical example for the session leader (optional)"),
        }
        help_texts = {
            "email": _("We send your confirmation and personal link to this address."),
            "question": _("The session leader reads this before the event."),
        }
        error_messages = {
            "name": {"required": _("Enter your name.")},
            "email": {
                "required": _("Enter your e-mail address."),
                "invalid": _("Enter an e-mail address like name@example.nl."),
            },
        }
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "name"}),
            "email": forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
            "organisation": forms.TextInput(attrs={"autocomplete": "organization"}),
            "function": forms.TextInput(attrs={"autocomplete": "organization-title"}),
            "question": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, event, rounds, seat_slots=False, round_fields=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.event = event
        self.add_round_fields(rounds, seat_slots=seat_slots, prepared=round_fields)
        self.order_fields(
            ["name", "email", "organisation", "function", "role", *self.round_fields, "question"]
        )
        privacy_url = reverse("registrations:privacy")
        self.fields["consent"].help_text = format_html(
            '<a href="{}">{}</a>', privacy_url, _("Read the privacy statement")
        )
        self.style_widgets()

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter your name."), code="required")
        return name

    def clean(self):
        cleaned_data = super().clean()
        self.clean_rounds(cleaned_data)
        return cleaned_data

    def is_spam(self):
        """True when the honeypot field was filled in (only bots see it)."""
        return bool(self.cleaned_data.get("website"))

    def validate_unique(self):
        # Registering twice is handled by the service without revealing the address.
        pass

    def _get_validation_exclusions(self):
        # The model's checks of the address (a valid e-mail address, lower case) would
        # repeat clean_email() with a query for the lower-case constraint, on the
        # busiest POST of the site; the database enforces that constraint on save.
        exclude = super()._get_validation_exclusions()
        exclude.add("email")
        return exclude


class ChangeChoicesForm(AccessibleErrorsMixin, RoundChoicesMixin, forms.Form):
    def __init__(self, *args, rounds, current, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_round_fields(rounds, initial=current)

    def clean(self):
        cleaned_data = super().clean()
        self.clean_rounds(cleaned_data)
        return cleaned_data


class SeriesRegistrationForm(RegistrationForm):
    """Register for one or several events of a series, with each event's round choices."""

    def __init__(self, *args, events, rounds_by_event, **kwargs):
        all_rounds = [round_ for event in events for round_ in rounds_by_event[event.pk]]
        super().__init__(*args, event=None, rounds=all_rounds, **kwargs)
        self.events = events
        self.rounds_by_event = rounds_by_event
        for event in events:
            name = f"event_{event.pk}"
            self.fields[name] = forms.BooleanField(
                label=format_html(
                    '<span class="choice__title">{}</span><span class="choice__meta">{}</span>',
                    event.title,
                    date_format(event.start_date, "l j F Y")
                    + (f", {event.venue}" if event.venue_id else ""),
                ),
                required=False,
            )
            for round_ in rounds_by_event[event.pk]:
                self.fields[f"round_{round_.pk}"].required = False
        self.style_widgets()

    @property
    def round_bound_fields(self):
        return []  # shown with their event: series_groups

    @property
    def series_groups(self):
        """(the event's checkbox, its rounds' radio groups) per event."""
        return [
            (
                self[f"event_{event.pk}"],
                [self[f"round_{round_.pk}"] for round_ in self.rounds_by_event[event.pk]],
            )
            for event in self.events
        ]

    def clean(self):
        cleaned_data = super().clean()
        if not any(cleaned_data.get(f"event_{event.pk}") for event in self.events):
            self.add_error(
                f"event_{self.events[0].pk}" if self.events else None,
                forms.ValidationError(_("Choose at least one event."), code="no_event"),
            )
        for event in self.events:
            if not cleaned_data.get(f"event_{event.pk}"):
                continue
            for round_ in self.rounds_by_event[event.pk]:
                name = f"round_{round_.pk}"
                if not cleaned_data.get(name) and name not in self.errors:
                    self.add_error(name, self.fields[name].error_messages["required"])
        return cleaned_data

    def chosen_events(self):
        chosen = []
        for event in self.events:
            if not self.cleaned_data.get(f"event_{event.pk}"):
                continue
            ids = []
            for round_ in self.rounds_by_event[event.pk]:
                value = self.cleaned_data.get(f"round_{round_.pk}")
                if value and value != NO_SESSION:
                    ids.append(int(value))
            chosen.append((event, ids))
        return chosen


class RankingMixin:
    """Per round a fieldset with three selects: first, second and third choice."""

    def add_ranking_fields(self, rounds, *, initial=None):
        initial = initial or {}
        self.ranking_rounds = []
        for round_ in rounds:
            offerings = list(round_.offerings.all())
            choices = [("", _("— no choice —"))] + [
                (str(offering.pk), offering.session.title) for offering in offerings
            ]
            names = []
            for rank in range(1, 4):
                name = f"round_{round_.pk}_{rank}"
                self.fields[name] = forms.ChoiceField(
                    label=[_("1st choice"), _("2nd choice"), _("3rd choice")][rank - 1],
                    choices=choices,
                    required=False,
                    initial=initial.get((round_.pk, rank), ""),
                    error_messages={
                        "invalid_choice": _("Choose one of the sessions shown for %(round)s.")
                        % {"round": round_.title}
                    },
                )
                names.append(name)
            self.ranking_rounds.append((round_, names))

    @property
    def ranking_groups(self):
        """(legend, the three select fields) per round."""
        return [
            (
                format_html(
                    '{} <span class="legend__time">{}</span>',
                    round_.title,
                    round_.starts_at.strftime("%H:%M"),
                ),
                [self[name] for name in names],
            )
            for round_, names in getattr(self, "ranking_rounds", [])
        ]

    def clean_rankings(self, cleaned_data):
        """No gaps (a second choice needs a first) and no session twice in a round."""
        for _round, names in self.ranking_rounds:
            values = [cleaned_data.get(name) or "" for name in names]
            seen = set()
            for index, (name, value) in enumerate(zip(names, values, strict=True)):
                if not value:
                    continue
                if any(not earlier for earlier in values[:index]):
                    self.add_error(
                        name,
                        forms.ValidationError(
                            _("Fill in your choices in order: first, then second, then third."),
                            code="gap",
                        ),
                    )
                elif value in seen:
                    self.add_error(
                        name,
                        forms.ValidationError(
                            _("You already chose this session for this round."), code="duplicate"
                        ),
                    )
                seen.add(value)

    def rankings(self):
        """{round id: [offering id, ...] best first}."""
        result = {}
        for round_, names in self.ranking_rounds:
            ranked = [int(self.cleaned_data[name]) for name in names if self.cleaned_data.get(name)]
            if ranked:
                result[round_.pk] = ranked
        return result


class PreferenceForm(RankingMixin, RegistrationForm):
    """Registration in preference mode: the person's details and their ranked sessions."""

    def __init__(self, *args, event, rounds, **kwargs):
        super().__init__(*args, event=event, rounds=[], **kwargs)
        self.add_ranking_fields(rounds)
        self.style_widgets()

    def clean(self):
        cleaned_data = super().clean()
        self.clean_rankings(cleaned_data)
        return cleaned_data


class ChangePreferencesForm(AccessibleErrorsMixin, RankingMixin, forms.Form):
    def __init__(self, *args, rounds, current, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_ranking_fields(rounds, initial=current)
        self.style_widgets()

    def clean(self):
        cleaned_data = super().clean()
        self.clean_rankings(cleaned_data)
        return cleaned_data
