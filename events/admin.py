from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.forms.formsets import DELETION_FIELD_NAME
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sitewide.admin import InlineRowsMixin, SafeAdminMixin
from sitewide.text import PlainTextAdminMixin

from . import admin_views, programme_editor
from .models import (
    Event,
    EventKind,
    EventOrganiser,
    EventRole,
    MeetingKind,
    ProgrammeBlock,
    RoleLabel,
    Round,
    Series,
    SeriesKind,
    SeriesOrganiser,
    Session,
    SessionKind,
    SessionOffering,
    SessionRole,
    Venue,
)

# The programme's admin pages: their tables of rows fit the screen.
ROWS_CSS = {"all": ["css/admin_rows.css"]}


class LabelAdmin(SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin):
    """An editable list with Dutch and English names (kinds, roles)."""

    list_display = ["name", "name_en", "code", "order"]
    list_editable = ["order"]
    search_fields = ["name", "name_en", "code"]
    prepopulated_fields = {"code": ["name_en"]}


@admin.register(SessionKind)
class SessionKindAdmin(LabelAdmin):
    list_display = ["name", "name_en", "code", "event", "series", "order"]
    list_filter = [("event", admin.RelatedOnlyFieldListFilter), "series"]
    list_select_related = ["event", "series"]
    autocomplete_fields = ["event"]


@admin.register(SeriesKind)
class SeriesKindAdmin(LabelAdmin):
    pass


def event_being_edited(request):
    """The pk of the object whose change page this request is for, or None."""
    match = request.resolver_match
    return match.kwargs.get("object_id") if match else None


def session_kinds_field(db_field, event, kwargs):
    """Offer a session of `event` only the site-wide kinds and the event's or series' own."""
    if db_field.name == "kind":
        kwargs["queryset"] = SessionKind.objects.for_event(event)


@admin.register(EventKind)
class EventKindAdmin(LabelAdmin):
    pass


@admin.register(RoleLabel)
class RoleLabelAdmin(LabelAdmin):
    list_display = ["name", "name_en", "evening_name", "evening_name_en", "in_event_facts", "order"]
    list_editable = ["in_event_facts", "order"]


def bookings(obj):
    """(people holding a seat or queue place, choices ever made) of an offering, a
    session, a round or an event: what its deletion would take from people."""
    holder = {SessionOffering: "pk", Session: "session", Round: "round", Event: "event"}
    offerings = SessionOffering.objects.filter(**{holder[type(obj)]: obj.pk})
    counts = offerings.aggregate(
        active=Count("choices", filter=~Q(choices__status="cancelled")), made=Count("choices")
    )
    if isinstance(obj, Event):
        counts = obj.registrations.aggregate(
            active=Count("pk", filter=~Q(status="cancelled")), made=Count("pk")
        )
    return counts["active"], counts["made"]


def refusal(obj):
    """Why `obj` may not be deleted (people booked it), or None when it may."""
    active, made = bookings(obj)
    if active:
        return ngettext(
            "“%(name)s” cannot be deleted: %(count)d person booked it. Cancel it instead: "
            "the participants are told and can choose another session.",
            "“%(name)s” cannot be deleted: %(count)d people booked it. Cancel it instead: "
            "the participants are told and can choose another session.",
            active,
        ) % {"name": obj, "count": active}
    if made:
        return _(
            "“%(name)s” cannot be deleted: it keeps the history of cancelled registrations. "
            "Cancel it instead, or leave it unpublished."
        ) % {"name": obj}
    return None


class RefuseDeletingBookedMixin:
    """Deleting what people booked is refused with a message, never Django's page of
    protected objects: the delete view, and the list's delete action."""

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        reason = obj and refusal(obj)
        if reason:
            self.message_user(request, reason, messages.ERROR)
            opts = self.opts
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _function, name, description = actions["delete_selected"]
            actions["delete_selected"] = (type(self).refuse_or_delete, name, description)
        return actions

    def refuse_or_delete(self, request, queryset):
        reasons = [reason for obj in queryset if (reason := refusal(obj))]
        if reasons:
            for reason in reasons:
                self.message_user(request, reason, messages.ERROR)
            return None
        return django_delete_selected(self, request, queryset)


class RefuseDeletingBookedInlineMixin:
    """An inline row of something people booked cannot be ticked for deletion: the form
    says why and offers cancelling, instead of Django's list of protected objects."""

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)

        class RefusingForm(formset.form):
            def hand_clean_DELETE(self):
                deleting = self.cleaned_data.get(DELETION_FIELD_NAME, False)
                reason = deleting and self.instance.pk and refusal(self.instance)
                if reason:
                    raise ValidationError(reason)
                super().hand_clean_DELETE()

        formset.form = RefusingForm
        return formset


@admin.register(Venue)
class VenueAdmin(SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "city", "street_address"]
    list_filter = ["city"]
    search_fields = ["name", "city", "street_address"]


class SeriesEventInline(SafeAdminMixin, PlainTextAdminMixin, admin.TabularInline):
    model = Event
    fields = ["title", "start_date", "kind", "is_published"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("kind")

    def has_add_permission(self, request, obj=None):
        return False


class OrganiserInline(InlineRowsMixin, SafeAdminMixin, admin.TabularInline):
    """Organisations in the order the page shows them, each with its part."""

    extra = 0
    autocomplete_fields = ["organisation"]
    fields = ["organisation", "role", "order"]
    row_select_related = ["organisation"]


class EventOrganiserInline(OrganiserInline):
    model = EventOrganiser
    classes = ["collapse"]  # set once; the event's page is long enough


class SeriesOrganiserInline(OrganiserInline):
    model = SeriesOrganiser


class MeetingKindInline(SafeAdminMixin, PlainTextAdminMixin, admin.TabularInline):
    model = MeetingKind
    extra = 0
    fields = ["name", "audience", "frequency", "order"]


@admin.register(Series)
class SeriesAdmin(SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin):
    list_display = ["title", "kind", "event_count", "is_published"]
    list_filter = ["kind", "is_published"]
    search_fields = ["title", "theme", "introduction"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [SeriesOrganiserInline, MeetingKindInline, SeriesEventInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "kind", "theme", "summary", "is_published"]}),
        (
            _("Texts"),
            {"fields": ["introduction", "audience", "price_note", "organisers_line"]},
        ),
        (_("Contact"), {"fields": ["contact_name", "contact_phone", "contact_email"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(event_count=Count("events"))

    @admin.display(description=_("events"), ordering="event_count")
    def event_count(self, obj):
        return obj.event_count


class EventRoleInline(InlineRowsMixin, SafeAdminMixin, PlainTextAdminMixin, admin.TabularInline):
    model = EventRole
    extra = 0
    autocomplete_fields = ["speaker"]
    row_select_related = ["speaker", "role", "event"]
    autocomplete_select_related = {"speaker": ["organisation"]}
    fields = ["speaker", "participant", "role", "affiliation", "note", "order"]


class ProgrammeBlockInline(
    InlineRowsMixin, SafeAdminMixin, PlainTextAdminMixin, admin.TabularInline
):
    model = ProgrammeBlock
    extra = 0
    fields = ["day", "starts_at", "ends_at", "kind", "title", "location", "description", "order"]


class RoundInline(
    RefuseDeletingBookedInlineMixin,
    InlineRowsMixin,
    SafeAdminMixin,
    PlainTextAdminMixin,
    admin.TabularInline,
):
    model = Round
    extra = 0
    fields = ["day", "starts_at", "ends_at", "title", "location", "description", "order"]


@admin.register(Event)
class EventAdmin(
    RefuseDeletingBookedMixin,
    SafeAdminMixin,
    PlainTextAdminMixin,
    admin.ModelAdmin,
):
    list_display = [
        "title",
        "start_date",
        "kind",
        "series",
        "place_display",
        "is_published",
        "programme_link",
    ]
    list_filter = ["is_published", "kind", "series", "is_online", "is_provisional", "start_date"]
    search_fields = ["title", "theme", "summary", "venue__name", "venue__city", "series__title"]
    date_hierarchy = "start_date"
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["series", "venue"]
    filter_horizontal = ["moderators"]
    readonly_fields = ["allocated_at"]
    list_select_related = ["series", "venue", "kind"]
    save_on_top = True

    class Media:
        css = ROWS_CSS

    actions = ["duplicate_events"]
    inlines = [
        EventOrganiserInline,
        EventRoleInline,
        ProgrammeBlockInline,
        RoundInline,
    ]
    fieldsets = [
        (None, {"fields": ["title", "slug", "kind", "series", "theme", "summary", "is_published"]}),
        (
            _("Place in the series"),
            {"fields": ["meeting_kind", ("part_number", "part_count")]},
        ),
        (
            _("Date and time"),
            {
                "fields": [
                    ("start_date", "end_date"),
                    ("doors_open", "start_time", "end_time"),
                    "time_to_be_confirmed",
                    "is_provisional",
                ]
            },
        ),
        (
            _("Place"),
            {"fields": ["venue", "venue_to_be_announced", "is_online", "online_note"]},
        ),
        (
            _("Texts"),
            {
                "fields": [
                    "introduction",
                    "audience",
                    "organisers_line",
                    "price_note",
                    ("more_info_url", "more_info_label"),
                ]
            },
        ),
        (
            _("Registration"),
            {
                "fields": [
                    "registration_enabled",
                    ("registration_opens_at", "registration_closes_at"),
                    "capacity",
                    "allocation_mode",
                    ("preferences_close_at", "allocated_at"),
                    "moderators",
                ]
            },
        ),
        (_("Contact"), {"fields": ["contact_name", "contact_phone", "contact_email"]}),
    ]

    @admin.display(description=_("place"))
    def place_display(self, obj):
        return obj.place

    @admin.display(description=_("programme"))
    def programme_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:events_event_programme", args=[obj.pk]),
            _("Edit programme"),
        )

    def response_post_save_add(self, request, obj):
        # A new event's sessions, rounds and blocks are made next, in the programme editor.
        if self.has_change_permission(request, obj):
            return redirect("admin:events_event_programme", obj.pk)
        return super().response_post_save_add(request, obj)

    def programme_change(self, request, event, **edited):
        """Save edited blocks, rounds or offerings from the programme editor; returns a
        response when the organiser must first see what the change does (the
        registrations app's EventAdmin adds that step), else None."""
        for name in ("blocks", "rounds", "offerings"):
            for obj in edited.get(name, ()):
                obj.save()
        return None

    @admin.action(description=_("Duplicate as a draft for next year"), permissions=["add"])
    def duplicate_events(self, request, queryset):
        # One at a time: the copy form proposes a date, title and address to check.
        if queryset.count() != 1:
            self.message_user(
                request, _("Choose one event to copy for next year."), messages.WARNING
            )
            return None
        return redirect("admin:events_event_copy", queryset.get().pk)

    def get_urls(self):
        def view(function, name, route):
            wrapped = self.admin_site.admin_view(
                lambda request, object_id: function(self, request, object_id)
            )
            return path(f"<int:object_id>/{route}/", wrapped, name=f"events_event_{name}")

        return [
            view(programme_editor.programme_editor, "programme", "programma"),
            view(programme_editor.people_search, "programme_people", "programma/personen"),
            view(admin_views.programme_text_import, "programme_import", "programma-importeren"),
            view(admin_views.session_sheet_import, "session_import", "sessies-importeren"),
            view(admin_views.session_sheet_template, "session_template", "sessies-sjabloon"),
            view(admin_views.copy_event, "copy", "kopieren"),
            view(admin_views.copy_done, "copied", "gekopieerd"),
            *super().get_urls(),
        ]


class SessionRoleInline(InlineRowsMixin, SafeAdminMixin, PlainTextAdminMixin, admin.TabularInline):
    model = SessionRole
    extra = 0
    autocomplete_fields = ["speaker"]
    row_select_related = ["speaker", "role", "session__event"]
    autocomplete_select_related = {"speaker": ["organisation"]}
    fields = ["speaker", "participant", "role", "affiliation", "order"]


class OfferingForSessionInline(
    RefuseDeletingBookedInlineMixin,
    InlineRowsMixin,
    SafeAdminMixin,
    PlainTextAdminMixin,
    admin.TabularInline,
):
    model = SessionOffering
    extra = 0
    fields = ["round", "last_round", "capacity", "location", "order"]
    row_select_related = ["session", "round", "last_round"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        session_id = (
            request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        )
        if db_field.name in {"round", "last_round"}:
            event_ids = Session.objects.filter(pk=session_id).values("event_id")
            kwargs["queryset"] = Round.objects.filter(event_id__in=event_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Session)
class SessionAdmin(
    RefuseDeletingBookedMixin,
    SafeAdminMixin,
    PlainTextAdminMixin,
    admin.ModelAdmin,
):
    list_display = ["title", "event", "kind", "theme", "offering_count"]
    list_filter = [("event", admin.RelatedOnlyFieldListFilter), "kind", "event__start_date"]
    search_fields = ["title", "theme", "description", "event__title", "roles__speaker__name"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["event"]
    list_select_related = ["event", "kind"]
    inlines = [SessionRoleInline, OfferingForSessionInline]

    class Media:
        css = ROWS_CSS

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(offering_count=Count("offerings"))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        session_id = event_being_edited(request)
        session = Session.objects.filter(pk=session_id).select_related("event").first()
        if session is not None:
            session_kinds_field(db_field, session.event, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("rounds"), ordering="offering_count")
    def offering_count(self, obj):
        return obj.offering_count

    def save_formset(self, request, form, formset, change):
        if formset.model is SessionOffering:
            for offering_form in formset.forms:
                offering_form.instance.event_id = form.instance.event_id
        super().save_formset(request, form, formset, change)


@admin.register(SessionOffering)
class SessionOfferingAdmin(
    RefuseDeletingBookedMixin, SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin
):
    list_display = ["session", "round", "event", "capacity", "location"]
    list_filter = [("event", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["session__title", "round__title", "event__title", "location"]
    autocomplete_fields = ["event", "session", "round", "last_round"]
    list_select_related = ["session", "round", "last_round", "event"]

    class Media:
        css = ROWS_CSS


@admin.register(Round)
class RoundAdmin(RefuseDeletingBookedMixin, SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin):
    list_display = ["title", "event", "starts_at", "ends_at"]
    list_filter = [("event", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "event__title"]
    autocomplete_fields = ["event"]
    list_select_related = ["event"]

    class Media:
        css = ROWS_CSS
