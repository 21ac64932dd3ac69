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
    """Shows a form again after a made-up choice; Django would query 'abc' as an id."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if primary_key(v) is not None], attr)


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
