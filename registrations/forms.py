import copy
import secrets
from functools import cached_property
from types import SimpleNamespace

from crispy_forms.utils import render_crispy_form
from django import forms
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import conditional_escape, escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext_lazy as _

from events.models import time_range, times_overlap
from sitewide.layout import Button, Div, Field, Fieldset, Link, form_helper
from sitewide.text import PlainTextField

from .models import ExportColumns, Registration
from .seat_slots import reservations_for, seat_slot

NO_SESSION = "0"


# A choice's short text on the form: about two lines; the rest opens in place.
SHORT_TEXT_WORDS = 20


class ChoiceLabel:
    """A choice of a radio group: its short label (the session's title, what the radio is
    called) and what describes it, written next to it by the house template pack
    (templates/house/field.html) and tied to the radio with aria-describedby: `details`
    (kind, theme, leaders, room, seats and a short text) and `more` (the full text, in a
    details element outside the label)."""

    def __init__(self, label, *, details="", more="", title=""):
        self.label, self.details, self.more, self.title = label, details, more, title

    def __str__(self):
        return str(self.label)

    def __html__(self):
        return conditional_escape(self.label)


def offering_label(offering, event):
    """The choice of `offering`: its title as the label, described by its kind and theme,
    the times of a span, its leaders with their organisation, its room, the seats left
    and a short text. The seats are a slot filled in for each response
    (registrations.seat_slots): labels are kept while seats change."""
    session = offering.session
    seats = ""
    if offering.capacity is not None:
        seats = seat_slot(
            "choice",
            offering.event_id,
            offering.capacity,
            offering.pk,
            reservations=reservations_for(event, offering.pk),
        )
    leaders = [
        format_html("{}{}", role.name, f" ({organisation})" if organisation else "")
        for role in session.roles.all()
        for organisation in [role_organisation(role)]
    ]
    kind_and_theme = [
        format_html('<span class="choice__kind">{}</span>', session.kind.shown)
        if session.kind
        else "",
        format_html('<span class="choice__theme">{}</span>', session.theme)
        if session.theme
        else "",
    ]
    short = Truncator(session.summary).words(SHORT_TEXT_WORDS)
    # A cut short text opens in full: the description, else the short text itself.
    more = session.more_text if short == session.summary else session.description or session.summary
    lines = [
        format_html_join(" · ", "{}", ((part,) for part in kind_and_theme if part)),
        format_html("{}", span_label(offering)) if offering.spans_rounds else "",
        format_html(
            "{} {}", _("Led by:"), format_html_join(", ", "{}", ((leader,) for leader in leaders))
        )
        if leaders
        else "",
        format_html("{} {}", _("Where:"), offering.location) if offering.location else "",
        format_html('<span class="choice__seats">{}</span>', seats) if seats else "",
        format_html('<span class="choice__summary" lang="nl">{}</span>', short) if short else "",
    ]
    return ChoiceLabel(
        format_html('<span class="choice__title" lang="nl">{}</span>', session.title),
        details=format_html_join(
            "", '<span class="choice__meta">{}</span>', ((line,) for line in lines if line)
        ),
        more=(more or "").strip(),
        title=session.title,
    )


def role_organisation(role):
    """The organisation shown after a leader's name: the role's own affiliation, else the
    speaker's organisation."""
    if role.affiliation:
        return role.affiliation
    if role.speaker_id and role.speaker.organisation_id:
        return role.speaker.organisation.name
    return ""


def end_label(offering):
    """When a session across rounds ends: its time, or else its last round."""
    return offering.ends_at.strftime("%H:%M") if offering.ends_at else offering.end_round.title


def span_label(offering):
    """'13:20–15:30, until the end of Ronde 2' for a session across rounds."""
    return _("%(times)s, until the end of %(round)s") % {
        "times": time_range(offering),
        "round": offering.last_round.title,
    }


def clash_message(chosen, offering):
    """Why `offering` cannot be chosen beside `chosen`, chosen in an earlier round."""
    if chosen.spans(offering.round, offering.round.event.start_date):
        return _(
            "%(session)s, which you chose in %(round)s, lasts until %(end)s and takes up "
            "this round too. Choose 'no session' here, or another session in %(round)s."
        ) % {
            "session": chosen.session.title,
            "round": chosen.round.title,
            "end": end_label(chosen),
        }
    return _(
        "This session takes place at the same time as %(session)s, which you chose in "
        "%(round)s. Choose another session or 'no session'."
    ) % {"session": chosen.session.title, "round": chosen.round.title}


class KeptChoiceField(forms.ChoiceField):
    """A choice field whose choices are shared by its copies, its widget's too: the choices
    of kept round fields are never changed, and copying their labels cost more than the
    rest."""

    def __deepcopy__(self, memo):
        # A ChoiceWidget's own copy normalizes its choices anew: share them instead.
        widget = copy.copy(self.widget)
        widget.attrs = self.widget.attrs.copy()
        memo[id(self.widget)] = widget
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

    def __init__(self, rounds):
        self.fields = {}
        self.round_pks = {}
        self.session_by_offering = {}
        self.offerings = {}
        # Per round field: the offerings of other rounds that take up its time (a session
        # across rounds, or a round that overlaps it); with one of them chosen, the
        # round may be left empty.
        self.taken_up_by = {}
        for round_ in rounds:
            name = f"round_{round_.pk}"
            offerings = list(round_.offerings.all())
            self.session_by_offering.update(
                {offering.pk: offering.session_id for offering in offerings}
            )
            self.offerings.update({offering.pk: offering for offering in offerings})
            choices = [
                (str(offering.pk), offering_label(offering, round_.event)) for offering in offerings
            ]
            choices.append((NO_SESSION, _("No session in this round")))
            self.fields[name] = KeptChoiceField(
                label=format_html(
                    '{} <span class="legend__time">{}</span>', round_.title, time_range(round_)
                ),
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
        for round_ in rounds:
            self._mark_taken_up(round_, rounds)

    def _mark_taken_up(self, round_, rounds):
        """Let `round_` be left empty when another round's session takes up its time,
        and say so next to it."""
        date = round_.event.start_date
        others = [other for other in rounds if other.event_id == round_.event_id]
        overlapping = [
            other
            for other in others
            if other.pk != round_.pk and times_overlap(other.interval(date), round_.interval(date))
        ]
        taken_up_by = [
            offering
            for other in others
            if other.pk != round_.pk
            for offering in other.offerings.all()
            if offering.takes_up(round_, date)
        ]
        if not taken_up_by:
            return
        name = f"round_{round_.pk}"
        self.taken_up_by[name] = {offering.pk for offering in taken_up_by}
        field = self.fields[name]
        field.required = False
        notes = [
            _("%(session)s (%(round)s) lasts until %(end)s and takes up this round too.")
            % {
                "session": offering.session.title,
                "round": offering.round.title,
                "end": end_label(offering),
            }
            for offering in taken_up_by
            if offering.spans(round_, date)
        ]
        if overlapping:
            notes.append(
                _("This round overlaps %(rounds)s in time.")
                % {"rounds": ", ".join(other.title for other in overlapping)}
            )
        notes.append(_("With a session there, choose nothing here or 'no session'."))
        field.help_text = " ".join(str(note) for note in notes)


class RoundChoicesMixin:
    """One required radio group per round: a session, or explicitly none."""

    def add_round_fields(self, rounds, *, initial=None, prepared=None):
        """Add the rounds' radio groups; `prepared` (RoundFields of the same rounds)
        saves building them."""
        initial = initial or {}
        prepared = prepared or RoundFields(rounds)
        self.round_fields = list(prepared.fields)
        self.session_by_offering = prepared.session_by_offering
        self.round_offerings = prepared.offerings
        self.taken_up_by = prepared.taken_up_by
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

    def clean_rounds(self, cleaned_data, names=None):
        """The same session may not be chosen in two rounds, nor two sessions at the same
        time; a round taken up by a chosen session may stay empty. `names`: the round
        fields to check (default: all)."""
        names = self.round_fields if names is None else names
        seen = set()
        chosen = []
        for name in names:
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
                continue
            seen.add(session_id)
            offering = self.round_offerings[int(value)]
            clash = next(
                (
                    earlier
                    for earlier in chosen
                    if earlier.event_id == offering.event_id
                    and earlier.clashes_with(offering, offering.round.event.start_date)
                ),
                None,
            )
            if clash is not None:
                self.add_error(
                    name, forms.ValidationError(clash_message(clash, offering), code="clash")
                )
            else:
                chosen.append(offering)
        chosen_pks = {offering.pk for offering in chosen}
        for name in names:
            if cleaned_data.get(name) or name not in self.taken_up_by or name in self.errors:
                continue
            if not self.taken_up_by[name] & chosen_pks:
                self.add_error(name, self.fields[name].error_messages["required"])


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

    def __init__(self, *args, event, rounds, round_fields=None, preselected=None, **kwargs):
        """`preselected`: an offering chosen beforehand in its round (a session page's
        "register for this session")."""
        super().__init__(*args, **kwargs)
        self.event = event
        self.add_round_fields(
            rounds,
            initial={preselected.round_id: str(preselected.pk)} if preselected else None,
            prepared=round_fields,
        )
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
        """'Register', or 'Join the waiting list' when the event is full (a slot)."""
        if self.event is None or self.event.capacity is None:
            return _("Register")
        return seat_slot("event-button", self.event.pk, self.event.capacity)

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter your name."), code="required")
        return name

    def clean(self):
        cleaned_data = super().clean()
        self.clean_rounds(cleaned_data, self.checked_round_fields(cleaned_data))
        return cleaned_data

    def checked_round_fields(self, cleaned_data):
        return self.round_fields

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
                if name in self.taken_up_by:
                    continue  # checked by clean_rounds
                if not cleaned_data.get(name) and name not in self.errors:
                    self.add_error(name, self.fields[name].error_messages["required"])
        return cleaned_data

    def checked_round_fields(self, cleaned_data):
        """Only the rounds of the events ticked."""
        return [
            f"round_{round_.pk}"
            for event in self.events
            if cleaned_data.get(f"event_{event.pk}")
            for round_ in self.rounds_by_event[event.pk]
        ]

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

    def __init__(self, *args, event, rounds, preselected=None, **kwargs):
        super().__init__(*args, event=event, rounds=[], **kwargs)
        # A preselected session is the first choice in its round.
        self.add_ranking_fields(
            rounds,
            initial={(preselected.round_id, 1): str(preselected.pk)} if preselected else None,
        )

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


class _StaffSearchForm(forms.Form):
    """A search (GET) of the moderators' pages: its field `q` and a button on one row."""

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


class CheckinSearchForm(_StaffSearchForm):
    """The check-in page's search (GET): a name or organisation."""

    q = forms.CharField(
        label=_("Search by name or organisation"),
        required=False,
        widget=forms.SearchInput(attrs={"autocomplete": "off"}),
    )


class PersonSearchForm(_StaffSearchForm):
    """The event overview's search (GET) for one participant to act on."""

    q = forms.CharField(
        label=_("Find a participant by name or e-mail address"),
        required=False,
        max_length=200,
        widget=forms.SearchInput(attrs={"autocomplete": "off"}),
    )


class CheckinToggleForm(forms.Form):
    """Marks one participant present ("1") or not (anything else) on the check-in page;
    static/js/checkin.js posts it in the background."""

    pk = forms.IntegerField(widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)
    present = forms.CharField(required=False, widget=forms.HiddenInput)

    @classmethod
    def for_row(cls, row, *, action, next_url, autofocus=False):
        """The button of one row: it says whether the person is present, and whom it is for.
        `autofocus`: the row just marked, whose button keeps the focus after the reload."""
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
                autofocus=autofocus,
            ),
            form_class="checkin-toggle",
            action=action,
        )
        return form

    @classmethod
    def row_renderer(cls, *, action, next_url, csrf_token, focused_pk=None):
        """A function row -> the HTML of its button form. Crispy renders the form once per
        kind of row (present or not, focused or not) with stand-ins for the row's number and
        name, which are then filled in: a crispy render per row cost ~1 ms, a second for a
        plenary list. The stand-ins are random, so no text in `next_url` can be one."""
        stand_in = secrets.token_hex(8)
        pk_slot, name_slot = f"pk{stand_in}", f"name{stand_in}"
        rendered = {}

        def render(row):
            focused = row.pk == focused_pk
            key = (row.present, focused)
            if key not in rendered:
                prototype = SimpleNamespace(pk=pk_slot, name=name_slot, present=row.present)
                form = cls.for_row(prototype, action=action, next_url=next_url, autofocus=focused)
                rendered[key] = render_crispy_form(
                    form, helper=form.helper, context={"csrf_token": csrf_token}
                )
            html = rendered[key].replace(pk_slot, str(row.pk)).replace(name_slot, escape(row.name))
            return mark_safe(html)  # noqa: S308 (crispy's output, with the escaped name)

        return render

    def marks_present(self):
        return self.cleaned_data["present"] == "1"


class ExportColumnsForm(AccessibleErrorsMixin, forms.Form):
    """The columns of the CSV and Excel exports, a checkbox each; its two buttons post to
    the export of either format, which remembers the choice for the user (ExportColumns)."""

    def __init__(self, *args, csv_url, xlsx_url, **kwargs):
        super().__init__(*args, **kwargs)
        for value, label in ExportColumns.Column.choices:
            self.fields[value] = forms.BooleanField(label=label, required=False)
        self.helper = form_helper(
            Fieldset(
                _("Columns in the export"), *ExportColumns.Column.values, css_class="export-columns"
            ),
            Div(
                Button(
                    _("CSV (Excel)"),
                    type="submit",
                    css_class="button--secondary",
                    formaction=csv_url,
                ),
                Button(
                    _("Excel (.xlsx)"),
                    type="submit",
                    css_class="button--secondary",
                    formaction=xlsx_url,
                ),
                css_class="list-actions",
            ),
            form_class="export-form",
            action=xlsx_url,
        )

    @classmethod
    def for_user(cls, user, **kwargs):
        chosen = set(ExportColumns.for_user(user))
        return cls(
            initial={value: value in chosen for value in ExportColumns.Column.values}, **kwargs
        )

    def clean(self):
        cleaned_data = super().clean()
        if not any(cleaned_data.get(value) for value in ExportColumns.Column.values):
            self.add_error(
                ExportColumns.Column.NAME,
                forms.ValidationError(_("Choose at least one column."), code="no_columns"),
            )
        return cleaned_data

    @property
    def columns(self):
        return [value for value in ExportColumns.Column.values if self.cleaned_data.get(value)]
