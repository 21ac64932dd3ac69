"""The event page's choice of sessions by kind and theme (``?kind=workshop&theme=Wonen``).

Works on the offerings the page has already prefetched, so filtering costs no query;
a plain GET form, so it works without JavaScript.
"""

from functools import cached_property

from django import forms
from django.utils.translation import gettext_lazy as _

from sitewide.layout import Button, Div, Link, form_helper


class ProgrammeFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of session"), required=False)
    theme = forms.ChoiceField(label=_("Theme"), required=False)

    def __init__(self, data, *, kinds, themes, reset_url):
        super().__init__(data)
        self.reset_url = reset_url
        self.fields["kind"].choices = [("", _("All kinds"))] + [(k.code, k.shown) for k in kinds]
        self.fields["theme"].choices = [("", _("All themes"))] + [(t, t) for t in themes]
        if len(kinds) < 2:
            del self.fields["kind"]
        if len(themes) < 2:
            del self.fields["theme"]

    @cached_property
    def helper(self):
        chosen = any(self.data.get(name) for name in self.fields)
        return form_helper(
            Div(
                *self.fields,
                Button(_("Show sessions"), type="submit", css_class="button--secondary"),
                *([Link(_("Show all"), f"{self.reset_url}#programme-heading")] if chosen else []),
                css_class="programme-filter__row",
            ),
            form_class="programme-filter",
            method="get",
            action="#programme-heading",
            role="search",
            # Every session is on the page: js/programme_filter.js may filter at once.
            **{"aria-label": _("Choose sessions"), "data-instant": "false" if chosen else "true"},
        )


class ProgrammeFilter:
    """The kinds and themes of an event's sessions, and the visitor's choice among them."""

    def __init__(self, event, params):
        self.rounds = list(event.rounds.all())
        sessions = {
            offering.session_id: offering.session
            for round_ in self.rounds
            for offering in round_.offerings.all()
        }.values()
        kinds = {session.kind.code: session.kind for session in sessions if session.kind_id}
        self.kinds = sorted(kinds.values(), key=lambda kind: (kind.order, kind.name))
        self.themes = sorted({session.theme for session in sessions if session.theme})
        self.form = ProgrammeFilterForm(
            params, kinds=self.kinds, themes=self.themes, reset_url=event.get_absolute_url()
        )
        # A value that is not (or no longer) offered shows everything rather than nothing.
        self.choice = self.form.cleaned_data if self.form.is_valid() else {}

    @property
    def is_offered(self):
        return bool(self.form.fields)

    @property
    def is_active(self):
        return any(self.choice.values())

    def matches(self, session):
        kind, theme = self.choice.get("kind"), self.choice.get("theme")
        return (not kind or (session.kind_id and session.kind.code == kind)) and (
            not theme or session.theme == theme
        )

    def apply(self):
        """Narrow each round's prefetched offerings to the chosen ones."""
        if not self.is_active:
            return
        for round_ in self.rounds:
            offerings = round_.offerings.all()
            offerings._result_cache = [o for o in offerings if self.matches(o.session)]

    @property
    def shown_count(self):
        return sum(len(round_.offerings.all()) for round_ in self.rounds)
