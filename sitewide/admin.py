"""The admin's answer to crafted parameters: its normal page or a 400, never a 500.

Django's admin looks some submitted values up as they come: text where a number belongs
in an action's selection or an autocomplete field being shown again, a year past 9999 in
the date hierarchy, a number beyond 64 bits on SQLite. Every ModelAdmin of the project
(and Django's own user and group admins, registered again below) uses this mixin.
"""

import re

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers, widgets
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.core.exceptions import BadRequest, ValidationError
from django.http import Http404

# ASCII digits only ('²' passes str.isdigit() but not int()), and few enough for a bigint.
PRIMARY_KEY = re.compile(r"[0-9]{1,18}")


def primary_key(value):
    """`value` as a primary key (all of the project's are integers), or None if it cannot be."""
    value = str(value)
    return int(value) if PRIMARY_KEY.fullmatch(value) else None


class SafeChangeList(ChangeList):
    """Impossible filter values give Django's own "?e=1" page instead of an exception."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (ValueError, OverflowError) as error:  # a date hierarchy year past 9999
            raise IncorrectLookupParameters(error) from error

    def get_results(self, request):
        try:
            super().get_results(request)
        except OverflowError as error:  # SQLite refuses integers beyond 64 bits
            raise IncorrectLookupParameters(error) from error


class SafeAutocompleteMixin:
    """Shows a form again after a made-up choice; Django would query 'abc' as an id.

    ``known`` ({str(pk): object}), set by InlineRowsMixin, holds the objects chosen in every
    row of an inline, loaded at once: a row then shows its choice without a query of its own.
    """

    known = None

    def optgroups(self, name, value, attr=None):
        value = [v for v in value if primary_key(v) is not None]
        chosen = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        if self.known is None or any(pk not in self.known for pk in chosen):
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))
        for pk in chosen if self.allow_multiple_selected else chosen[:1]:
            label = self.choices.field.label_from_instance(self.known[pk])
            options.append(self.create_option(name, int(pk), label, True, len(options)))
        return [(None, options, 0)]


class AutocompleteSelect(SafeAutocompleteMixin, widgets.AutocompleteSelect):
    pass


class AutocompleteSelectMultiple(SafeAutocompleteMixin, widgets.AutocompleteSelectMultiple):
    pass


class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Says "not a valid choice" for a number beyond 64 bits, which SQLite cannot compare."""

    def _check_values(self, value):
        for choice in value:
            if primary_key(choice) is None:
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": choice},
                )
        return super()._check_values(value)


class InlineRowsMixin:
    """For inlines: a page loads each related-object choice list once, not once per row.

    A select's choices are read when the formset is built and shared by its rows; an
    autocomplete field gets the objects every row has chosen in one query. Validation
    still looks each submitted value up.
    ``row_select_related`` names what a row's title (its object's str()) reads;
    ``autocomplete_select_related`` what an autocomplete field's label reads, per field.
    """

    row_select_related = ()
    autocomplete_select_related = {}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.row_select_related:
            queryset = queryset.select_related(*self.row_select_related)
        return queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        autocomplete = db_field.name in self.get_autocomplete_fields(request)
        plain = not autocomplete and db_field.name not in self.radio_fields
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if plain and isinstance(field, forms.ModelChoiceField):
            field.choices = list(field.choices)
        return field

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        rows = self.get_queryset(request).filter(**{formset.fk.name: obj}) if obj else None
        for name in self.get_autocomplete_fields(request):
            field = formset.form.base_fields.get(name)
            widget = getattr(field, "widget", None)
            widget = getattr(widget, "widget", widget)  # inside RelatedFieldWidgetWrapper
            if isinstance(widget, SafeAutocompleteMixin):
                chosen = field.queryset.none()
                if rows is not None:
                    chosen = field.queryset.filter(pk__in=rows.values(name)).select_related(
                        *self.autocomplete_select_related.get(name, ())
                    )
                widget.known = {str(item.pk): item for item in chosen}
        return formset


class SafeAdminMixin:
    """For ModelAdmins and inlines: bad input in lists, actions and forms never gives a 500."""

    def get_changelist(self, request, **kwargs):
        return SafeChangeList

    def response_action(self, request, queryset):
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if any(primary_key(value) is None for value in selected):
            raise BadRequest("Action on objects that cannot exist")
        return super().response_action(request, queryset)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        kwargs.setdefault("form_class", ModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def view_on_site(request, content_type_id, object_id):
    """Django's "view on site" redirect, for models whose admin shows that button only.

    Django redirects to any object's get_absolute_url(); a registration's is the personal
    link, which organisers must not see (RegistrationAdmin.view_on_site = False).
    """
    content_type = (
        primary_key(content_type_id)
        and ContentType.objects.filter(pk=primary_key(content_type_id)).first()
    )
    model_admin = content_type and admin.site._registry.get(content_type.model_class())
    if not (model_admin and model_admin.view_on_site):
        raise Http404
    return shortcut(request, content_type_id, object_id)


class SafeUserAdmin(SafeAdminMixin, UserAdmin):
    pass


class SafeGroupAdmin(SafeAdminMixin, GroupAdmin):
    pass


admin.site.unregister(User)
admin.site.register(User, SafeUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, SafeGroupAdmin)
