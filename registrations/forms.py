import copy
from functools import cached_property

from django import forms
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sitewide.layout import Button, Div, Field, Fieldset, Link, form_helper
from sitewide.pagecache import slot
from sitewide.text import PlainTextField

from .models import Registration

NO_SESSION = "0"
# The first-come form's button says "Register" or "Join the waiting list": a slot that
# the view fills in for each response, like the seats (sitewide.pagecache.SlottedPage).
SUBMIT_SLOT = slot("submit")


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
    view fills in for each response (sitewide.pagecache.SlottedPage)."""
    if seat_slot and offering.capacity is not None:
        seats = slot(f"seats:{offering.pk}")
    else:
        seats = seats_label(offering.capacity, offering.seats_taken)
    leaders = ", ".join(role.name for role in offering.session.roles.all())
    kind = offering.session.kind
    return format_html(
        '<span class="choice__title">{}</span>{}{}{}',
        offering.session.title,
        format_html('<span class="choice__kind">{}</span>', kind.shown) if kind else "",
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

    def choice_layout(self):
        """The radio groups, each a fieldset with the round as its legend."""
        return [Field(name, wrapper_class="round-choice") for name in self.round_fields]

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


class AccessibleErrorsMixin:
    """A field in error points at its hint and at each of its messages, which the house
    template pack (templates/house/field.html) writes next to it; radio groups are
    written out by that template."""

    def mark_errors(self):
        for name in self.errors:
            if name not in self.fields:
                continue
            widget = self.fields[name].widget
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


class RegistrationForm(AccessibleErrorsMixin, RoundChoicesMixin, forms.Form):
    """A person's details and their sessions; the services store them (it saves no model)."""

    # Free text drops control characters (sitewide/text.py): they break the Excel exports.
    name = PlainTextField(
        label=_("Name"),
        max_length=200,
        error_messages={"required": _("Enter your name.")},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        help_text=_("We send your confirmation and personal link to this address."),
        error_messages={
            "required": _("Enter your e-mail address."),
            "invalid": _("Enter an e-mail address like name@example.nl."),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    organisation = PlainTextField(
        label=_("Organisation (optional)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    function = PlainTextField(
        label=_("Function (optional)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization-title"}),
    )
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

    question = PlainTextField(
        label=_("Question or practical example for the session leader (optional)"),
        required=False,
        help_text=_("The session leader reads this before the event."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, event, rounds, seat_slots=False, round_fields=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.event = event
        self.seat_slots = seat_slots
        self.add_round_fields(rounds, seat_slots=seat_slots, prepared=round_fields)
        self.order_fields(
            ["name", "email", "organisation", "function", "role", *self.round_fields, "question"]
        )
        privacy_url = reverse("registrations:privacy")
        self.fields["consent"].help_text = format_html(
            '<a href="{}">{}</a>', privacy_url, _("Read the privacy statement")
        )

    @cached_property
    def helper(self):
        return form_helper(
            *self.person_layout(),
            *self.choice_layout(),
            "question",
            "consent",
            Button(self.submit_label(), type="submit", css_class="button--large"),
            novalidate=True,
        )

    def person_layout(self):
        return [
            Fieldset(
                _("Your details"),
                "name",
                "email",
                "organisation",
                "function",
                "role",
                # The honeypot: hidden from people and screen readers, filled in by bots.
                Div("website", css_class="visually-hidden", aria_hidden="true"),
            )
        ]

    def submit_label(self):
        return SUBMIT_SLOT if self.seat_slots else _("Register")

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


class ChangeForm(AccessibleErrorsMixin, forms.Form):
    """The personal-link page's form: the choices (``choice_layout``) and a save button."""

    @cached_property
    def helper(self):
        return form_helper(
            *self.choice_layout(), Button(_("Save my choices"), type="submit"), novalidate=True
        )


class ChangeChoicesForm(RoundChoicesMixin, ChangeForm):
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

    def choice_layout(self):
        """Per event its checkbox, with its rounds' radio groups."""
        return [
            Fieldset(
                _("Which events do you want to attend?"),
                *(
                    Div(
                        f"event_{event.pk}",
                        *(
                            Field(f"round_{round_.pk}", wrapper_class="round-choice")
                            for round_ in self.rounds_by_event[event.pk]
                        ),
                        css_class="series-event",
                    )
                    for event in self.events
                ),
            )
        ]

    def submit_label(self):
        return _("Register")

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

    def choice_layout(self):
        """Per round a fieldset with its three selects."""
        return [
            Fieldset(
                format_html(
                    '{} <span class="legend__time">{}</span>',
                    round_.title,
                    round_.starts_at.strftime("%H:%M"),
                ),
                *names,
                css_class="round-choice ranking",
            )
            for round_, names in self.ranking_rounds
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

    def submit_label(self):
        return _("Send my preferences")

    def clean(self):
        cleaned_data = super().clean()
        self.clean_rankings(cleaned_data)
        return cleaned_data


class ChangePreferencesForm(RankingMixin, ChangeForm):
    def __init__(self, *args, rounds, current, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_ranking_fields(rounds, initial=current)

    def clean(self):
        cleaned_data = super().clean()
        self.clean_rankings(cleaned_data)
        return cleaned_data


class CancelForm(forms.Form):
    """Cancelling asks for nothing: the form is the confirmation and a way back."""

    def __init__(self, *args, keep_url, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            Button(_("Yes, cancel my registration"), type="submit", css_class="button--danger"),
            Link(_("No, keep my registration"), keep_url),
            form_class=None,
        )


class CheckinSearchForm(forms.Form):
    """The check-in page's search (GET): a name or organisation."""

    q = forms.CharField(
        label=_("Search by name or organisation"),
        required=False,
        widget=forms.SearchInput(attrs={"autocomplete": "off"}),
    )

    @cached_property
    def helper(self):
        return form_helper(
            Div(
                "q",
                Button(_("Search"), type="submit", css_class="button--secondary"),
                css_class="checkin-search__row",
            ),
            form_class="checkin-search",
            method="get",
            role="search",
        )


class CheckinToggleForm(forms.Form):
    """Marks one participant present ("1") or not (anything else) on the check-in page;
    static/js/checkin.js posts it in the background."""

    pk = forms.IntegerField(widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)
    present = forms.CharField(required=False, widget=forms.HiddenInput)

    @classmethod
    def for_row(cls, row, *, action, next_url):
        """The button of one row: it says whether the person is present, and whom it is for."""
        form = cls(
            initial={"pk": row.pk, "next": next_url, "present": "0" if row.present else "1"},
            auto_id=False,  # one form per row: no ids to repeat
        )
        label = _("Present") if row.present else _("Mark present")
        form.helper = form_helper(
            "pk",
            "next",
            "present",
            Button(
                format_html('{}<span class="visually-hidden">: {}</span>', label, row.name),
                type="submit",
                css_class="button--present" if row.present else "button--secondary",
                aria_pressed="true" if row.present else "false",
            ),
            form_class="checkin-toggle",
            action=action,
        )
        return form

    def marks_present(self):
        return self.cleaned_data["present"] == "1"
