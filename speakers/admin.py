from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from sitewide.admin import SafeAdminMixin
from sitewide.text import PlainTextAdminMixin

from .models import Organisation, Speaker


@admin.register(Organisation)
class OrganisationAdmin(SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "url"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    list_filter = [("url", admin.EmptyFieldListFilter)]


class HasPhotoFilter(admin.EmptyFieldListFilter):
    pass


@admin.register(Speaker)
class SpeakerAdmin(SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "organisation", "function"]
    list_filter = [("organisation", admin.RelatedOnlyFieldListFilter), ("photo", HasPhotoFilter)]
    search_fields = ["name", "function", "organisation__name", "biography"]
    autocomplete_fields = ["organisation"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["organisation"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "organisation", "function"]}),
        (_("Biography"), {"fields": ["biography", "photo", "photo_description", "url", "email"]}),
    ]
