"""The crispy-forms helper and layout objects of the house template pack (templates/house/).

crispy's own Fieldset, StrictButton and HTML render their text as a template; these render it
as text or safe HTML, because legends and buttons here carry round titles from the database
and the names of participants.
"""

from crispy_forms import layout
from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.utils import TEMPLATE_PACK
from django.template.loader import render_to_string
from django.utils.html import conditional_escape, format_html

Div = layout.Div
Field = layout.Field
Layout = layout.Layout


class Fieldset(layout.Fieldset):
    """A <fieldset> with its legend."""

    def render(self, form, context, template_pack=TEMPLATE_PACK, **kwargs):
        fields = self.get_rendered_fields(form, context, template_pack, **kwargs)
        return render_to_string(
            self.get_template_name(template_pack),
            {"fieldset": self, "legend": conditional_escape(self.legend), "fields": fields},
        )


class Button(StrictButton):
    """A <button class="button …">, e.g. ``Button(_("Save"), type="submit")``."""

    field_classes = "button"

    def render(self, form, context, template_pack=TEMPLATE_PACK, **kwargs):
        return render_to_string(self.get_template_name(template_pack), {"button": self})


class Link:
    """A link styled as a button, next to a form's buttons (a way back)."""

    def __init__(self, text, url, *, css_class="button button--secondary"):
        self.text, self.url, self.css_class = text, url, css_class

    def render(self, form, context, template_pack=TEMPLATE_PACK, **kwargs):
        return format_html('<a class="{}" href="{}">{}</a>', self.css_class, self.url, self.text)


def form_helper(*fields, form_class="registration-form", method="post", **attrs):
    """A FormHelper for `fields` (names and layout objects) in a <form> of the house style;
    `attrs` become attributes of the <form>. Forms with messages skip the browser's own
    checks (novalidate), so that every message is the site's, in the summary and at its field.
    """
    helper = FormHelper()
    helper.form_method = method
    helper.form_class = form_class or ""
    helper.attrs = attrs
    helper.layout = Layout(*fields)
    return helper
