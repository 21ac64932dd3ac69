"""Free text without control characters, wherever people type it.

Word pastes a vertical tab for Shift+Enter; such characters are invisible on a page but
make spreadsheets (openpyxl, Excel) refuse a whole export. Every text field of the site's
forms, the public ones and the admin's, drops them when it is cleaned
(``PlainTextField``), and the exports drop them from rows stored before (``plain_text``).
"""

import re

from django import forms
from django.db import models

# Characters that end a line besides line feed and carriage return (vertical tab, form
# feed, the separators): a space in one-line fields, a line break in a text area.
_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# The other C0 controls and DEL, and the two non-characters that make an XML file (such as
# a workbook) unreadable.
_DROPPED = re.compile("[\x00-\x08\x0e-\x1b\x7f\ufffe\uffff]")
_ONE_LINE_SPACES = re.compile(f"[\t\n\r\x1f{_LINE_BREAKS}]")
_MULTI_LINE_BREAKS = re.compile(f"[{_LINE_BREAKS}]")


def plain_text(value, *, multiline=False):
    """`value` without control characters. Line breaks (a vertical tab too) and tabs become a
    space, or in `multiline` text a line break and stay a tab; the rest is dropped."""
    value = _DROPPED.sub("", value)
    if multiline:
        return _MULTI_LINE_BREAKS.sub("\n", value).replace("\x1f", " ")
    return _ONE_LINE_SPACES.sub(" ", value)


class PlainTextField(forms.CharField):
    """A CharField that drops control characters before it validates (see plain_text);
    a text area keeps its tabs and line breaks."""

    def to_python(self, value):
        if isinstance(value, str):
            value = plain_text(value, multiline=isinstance(self.widget, forms.Textarea))
        return super().to_python(value)


def is_free_text(db_field):
    """A model field that people type text into (not a choice, e-mail address or URL)."""
    return (
        isinstance(db_field, models.CharField | models.TextField)
        and not db_field.choices
        and not isinstance(db_field, models.EmailField | models.URLField | models.SlugField)
    )


class PlainTextAdminMixin:
    """For ModelAdmins and inlines: free-text fields drop control characters as well."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if is_free_text(db_field):
            kwargs.setdefault("form_class", PlainTextField)
        return super().formfield_for_dbfield(db_field, request, **kwargs)
