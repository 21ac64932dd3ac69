from django.contrib import admin, messages
from django.utils.translation import ngettext

from events import admin as events_admin
from events.models import Event, SessionOffering

from . import services
from .models import Registration, SessionChoice


class SessionChoiceInline(admin.TabularInline):
    model = SessionChoice
    extra = 0
    fields = ["offering", "status", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["offering"]


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "event", "role", "status", "created_at"]
    list_filter = ["status", "role", ("event", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "email", "organisation"]
    list_select_related = ["event"]
    readonly_fields = ["token", "created_at", "updated_at", "cancelled_at", "consented_at"]
    autocomplete_fields = ["event"]
    inlines = [SessionChoiceInline]
    date_hierarchy = "created_at"


# Capacity raised in the admin: the first people waiting move up at once.
# Registered here because events must not import registrations.
class EventAdmin(events_admin.EventAdmin):
    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _report_promotions(self, request, services.fill_free_seats(form.instance))


class SessionOfferingAdmin(events_admin.SessionOfferingAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _report_promotions(self, request, services.fill_free_seats(obj.event))


def _report_promotions(model_admin, request, promoted):
    if promoted:
        model_admin.message_user(
            request,
            ngettext(
                "%(count)d person moved up from the waiting list and was e-mailed.",
                "%(count)d people moved up from the waiting list and were e-mailed.",
                len(promoted),
            )
            % {"count": len(promoted)},
            messages.SUCCESS,
        )


admin.site.unregister(Event)
admin.site.register(Event, EventAdmin)
admin.site.unregister(SessionOffering)
admin.site.register(SessionOffering, SessionOfferingAdmin)
