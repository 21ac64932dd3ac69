import contextlib

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpResponseRedirect
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from events import admin as events_admin
from events.models import Event, ProgrammeBlock, Round, Session, SessionOffering
from sitewide.admin import InlineRowsMixin, SafeAdminMixin, primary_key
from sitewide.text import PlainTextAdminMixin

from . import emails, services
from .models import (
    AllocationRun,
    Mailing,
    QueuedEmail,
    Registration,
    SeatReservation,
    SessionChoice,
    Status,
)
from .seats import lock_event
from .services import programme_changes


class SessionChoiceInline(SafeAdminMixin, admin.TabularInline):
    """Read-only: seats change only through the actions, which hold the event lock."""

    model = SessionChoice
    extra = 0
    fields = ["offering", "status", "created_at", "checked_in_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class OfferingListFilter(admin.SimpleListFilter):
    """The session offerings people chose; only this event's once an event is picked."""

    title = _("session")
    parameter_name = "offering"
    event_parameter = "event__id__exact"

    def lookups(self, request, model_admin):
        offerings = (
            SessionOffering.objects.filter(pk__in=SessionChoice.objects.values("offering_id"))
            .select_related("event", "session", "round")
            .order_by("event__start_date", "event__pk", "round__starts_at", "order", "pk")
        )
        event_id = primary_key(request.GET.get(self.event_parameter, ""))
        if event_id is not None:
            return [
                (str(offering.pk), str(offering))
                for offering in offerings.filter(event_id=event_id)
            ]
        return [(str(offering.pk), f"{offering.event.title}: {offering}") for offering in offerings]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        offering_id = primary_key(self.value())
        if offering_id is None:
            raise IncorrectLookupParameters("not a session offering id")  # ?e=1 page
        # People whose choice of this session still stands; cancelled registrations
        # keep their (cancelled) choices, so the status filter can still find them.
        return queryset.filter(
            Q(choices__status__in=[Status.CONFIRMED, Status.WAITING]) | Q(status=Status.CANCELLED),
            choices__offering_id=offering_id,
        ).distinct()


@admin.register(Registration)
class RegistrationAdmin(SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin):
    list_display = ["name", "email", "event", "role", "status", "created_at"]
    list_filter = [
        ("event", admin.RelatedOnlyFieldListFilter),
        OfferingListFilter,
        "status",
        "role",
    ]
    search_fields = ["name", "email", "organisation"]
    list_select_related = ["event"]
    # Event and status change only through the actions (cancel, move up), which lock the
    # event and move the next person up; editing them here would bypass both.
    readonly_fields = [
        "event", "status", "created_at", "updated_at", "cancelled_at", "consented_at",
    ]  # fmt: skip
    # The personal-link code opens the participant's own page: not for organisers' eyes,
    # so neither the field nor "view on site" (which redirects to that page).
    exclude = ["token"]
    view_on_site = False
    inlines = [SessionChoiceInline]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "history"]

    @admin.display(description=_("history of this registration"))
    def history(self, registration):
        """Who changed what, when, from which page: newest last."""
        entries = registration.history.select_related(
            "offering__session", "offering__round", "actor"
        )
        if not entries:
            return "–"
        return format_html(
            "<table><thead><tr><th scope='col'>{}</th><th scope='col'>{}</th>"
            "<th scope='col'>{}</th><th scope='col'>{}</th></tr></thead><tbody>{}</tbody></table>",
            gettext("When"),
            gettext("From"),
            gettext("What"),
            gettext("By"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        date_format(localtime(entry.created_at), "SHORT_DATETIME_FORMAT"),
                        entry.get_source_display(),
                        str(entry),
                        entry.actor.get_username() if entry.actor else "",
                    )
                    for entry in entries
                ),
            ),
        )

    def has_add_permission(self, request):
        return False  # participants register through the site, with its rules

    def delete_model(self, request, obj):
        event = obj.event
        super().delete_model(request, obj)
        services.fill_free_seats(event)

    def delete_queryset(self, request, queryset):
        events = list(Event.objects.filter(registrations__in=queryset).distinct())
        super().delete_queryset(request, queryset)
        for event in events:
            services.fill_free_seats(event)

    date_hierarchy = "created_at"
    actions = ["cancel_registrations", "move_up_registrations", "resend_confirmations"]
    change_form_template = "admin/registrations/registration/change_form.html"

    def get_urls(self):
        return [
            path(
                "<path:object_id>/choices/",
                self.admin_site.admin_view(self.choices_view),
                name="registrations_registration_choices",
            ),
            *super().get_urls(),
        ]

    def choices_view(self, request, object_id):
        """Act on one person: move a session choice to another session of its round,
        cancel a choice or the registration, or move them up from the waiting list."""
        registration = self.get_object(request, unquote(object_id))
        if registration is None:
            raise Http404
        if not self.has_change_permission(request, registration):
            raise PermissionDenied
        url = reverse("admin:registrations_registration_choices", args=[registration.pk])
        if request.method == "POST":
            self._act_on_person(request, registration)
            return HttpResponseRedirect(url)
        choices = list(
            registration.choices.active().select_related("offering__session", "offering__round")
        )
        alternatives = (
            SessionOffering.objects.current()
            .filter(round_id__in=[choice.round_id for choice in choices])
            .annotate(seats_taken=Count("choices", filter=Q(choices__status=Status.CONFIRMED)))
            .select_related("session")
        )
        lines = [
            {
                "choice": choice,
                "others": [
                    offering
                    for offering in alternatives
                    if offering.round_id == choice.round_id and offering.pk != choice.offering_id
                ],
            }
            for choice in choices
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Sessions of %(name)s") % {"name": registration.name},
            "opts": self.opts,
            "original": registration,
            "registration": registration,
            "lines": lines,
            "change_url": reverse(
                "admin:registrations_registration_change", args=[registration.pk]
            ),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/registrations/registration/choices.html", context)

    def _act_on_person(self, request, registration):
        action = request.POST.get("action", "")
        try:
            if action == "cancel_registration":
                services.cancel_registration(registration, by=request.user)
            elif action == "move_up":
                services.move_up(registration, by=request.user)
            elif action in {"move_choice", "cancel_choice"}:
                choice = registration.choices.active().get(
                    pk=primary_key(request.POST.get("choice", "")) or 0
                )
                if action == "cancel_choice":
                    services.cancel_choice(choice, by=request.user)
                else:
                    offering = SessionOffering.objects.get(
                        pk=primary_key(request.POST.get("offering", "")) or 0,
                        event_id=registration.event_id,
                    )
                    services.move_choice(
                        choice,
                        offering,
                        respect_capacity=not request.POST.get("ignore_capacity"),
                        by=request.user,
                    )
            else:
                return
        except (SessionChoice.DoesNotExist, SessionOffering.DoesNotExist):
            self.message_user(
                request, gettext("Choose a session shown on this page."), messages.ERROR
            )
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(
                request, gettext("Done; the participant is being e-mailed."), messages.SUCCESS
            )

    @admin.action(description=_("Cancel the selected registrations"), permissions=["change"])
    def cancel_registrations(self, request, queryset):
        cancelled, promoted = 0, {}
        for registration in queryset.active():
            outcome = services.cancel_registration(registration, by=request.user)
            cancelled += 1
            promoted.update((person.pk, person) for person in outcome.promoted)
        if not cancelled:
            self.message_user(
                request,
                gettext("The selected registrations had been cancelled already."),
                messages.WARNING,
            )
            return
        self.message_user(
            request,
            ngettext(
                "%(count)d registration cancelled; the person was e-mailed.",
                "%(count)d registrations cancelled; the people were e-mailed.",
                cancelled,
            )
            % {"count": cancelled},
            messages.SUCCESS,
        )
        _report_promotions(self, request, list(promoted.values()))

    @admin.action(
        description=_("Move the selected registrations up from the waiting list"),
        permissions=["change"],
    )
    def move_up_registrations(self, request, queryset):
        moved = sum(
            len(services.move_up(registration, by=request.user).promoted)
            for registration in queryset.filter(status=Status.WAITING)
        )
        if not moved:
            self.message_user(
                request,
                gettext("None of the selected registrations is on the waiting list."),
                messages.WARNING,
            )
            return
        self.message_user(
            request,
            ngettext(
                "%(count)d registration moved up from the waiting list and was e-mailed. "
                "The event or a session may now have more participants than seats.",
                "%(count)d registrations moved up from the waiting list and were e-mailed. "
                "The event or a session may now have more participants than seats.",
                moved,
            )
            % {"count": moved},
            messages.SUCCESS,
        )

    @admin.action(
        description=_("Send the confirmation e-mail again"),
        permissions=["change"],
    )
    def resend_confirmations(self, request, queryset):
        active = list(queryset.active().values_list("pk", flat=True))
        for registration_pk in active:
            emails.queue(registration_pk, "confirmation")
        if active:
            self.message_user(
                request,
                ngettext(
                    "Confirmation e-mail sent again to %(count)d registration.",
                    "Confirmation e-mail sent again to %(count)d registrations.",
                    len(active),
                )
                % {"count": len(active)},
                messages.SUCCESS,
            )
        skipped = queryset.count() - len(active)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d cancelled registration was skipped.",
                    "%(count)d cancelled registrations were skipped.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


class MailingForm(forms.ModelForm):
    class Meta:
        model = Mailing
        fields = ["event", "offering", "subject", "body"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        offering_field = self.fields.get("offering")
        if offering_field is None:  # read-only: the mailing has been sent
            return
        offerings = SessionOffering.objects.select_related("event", "session", "round").order_by(
            "event__start_date", "event__pk", "round__starts_at", "order", "pk"
        )
        event_id = str(self.initial.get("event") or "")
        # Offer only the chosen event's sessions. A submitted form accepts them all,
        # so that clean() can say why a session of another event does not fit.
        if event_id.isdigit() and not self.is_bound:
            offerings = offerings.filter(event_id=event_id)
        offering_field.queryset = offerings
        offering_field.label_from_instance = lambda offering: f"{offering.event.title}: {offering}"

    def clean(self):
        cleaned_data = super().clean()
        event, offering = cleaned_data.get("event"), cleaned_data.get("offering")
        if event and offering and offering.event_id != event.pk:
            self.add_error(
                "offering",
                ValidationError(
                    _(
                        "This session is part of another event. Choose a session of "
                        "%(event)s, or leave this empty to write to all its participants."
                    ),
                    code="offering_of_other_event",
                    params={"event": event.title},
                ),
            )
        return cleaned_data


@admin.register(Mailing)
class MailingAdmin(SafeAdminMixin, PlainTextAdminMixin, admin.ModelAdmin):
    """Write, preview, then send after an explicit confirmation; a sent mailing is read-only."""

    form = MailingForm
    list_display = ["subject", "event", "offering", "created_at", "sent_at", "recipient_count"]
    list_filter = [("event", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["subject", "event__title"]
    list_select_related = ["event", "offering__session", "offering__round"]
    autocomplete_fields = ["event"]
    readonly_fields = ["recipients_display", "preview", "created_by", "created_at", "sent_at"]
    actions = ["send_selected"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": ["event", "offering", "subject", "body"]})]
        if obj is None:
            return fieldsets
        return [
            *fieldsets,
            (_("Preview"), {"fields": ["recipients_display", "preview"]}),
            (_("Sending"), {"fields": ["created_by", "created_at", "sent_at"]}),
        ]

    def has_change_permission(self, request, obj=None):
        # A sent mailing is the record of what went out, so it stays as it was.
        if obj is not None and obj.sent_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" in request.POST or IS_POPUP_VAR in request.POST:
            return response
        # Straight to the change page: it shows the preview and the send button.
        return HttpResponseRedirect(reverse("admin:registrations_mailing_change", args=[obj.pk]))

    @admin.display(description=_("recipients"))
    def recipients_display(self, obj):
        if obj.sent_at is not None:
            count = obj.recipient_count or 0
        else:
            count = services.mailing_recipients(obj).count()
        return ngettext(
            "%(count)d confirmed participant", "%(count)d confirmed participants", count
        ) % {"count": count}

    @admin.display(description=_("preview"))
    def preview(self, obj):
        first = services.mailing_recipients(obj).first()
        if first is None:
            return gettext("There are no confirmed participants yet, so there is no preview.")
        return format_html(
            "<p><strong>{}</strong></p><p>{}</p>",
            gettext("The message as %(name)s receives it:") % {"name": first.name},
            linebreaksbr(emails.render_mailing(obj, first, preview=True)),
        )

    @admin.action(description=_("Send the selected mailing…"), permissions=["change"])
    def send_selected(self, request, queryset):
        unsent = queryset.filter(sent_at__isnull=True)
        if queryset.count() != 1 or unsent.count() != 1:
            self.message_user(
                request,
                gettext("Select exactly one mailing that has not been sent yet."),
                messages.WARNING,
            )
            return None
        return HttpResponseRedirect(
            reverse("admin:registrations_mailing_send", args=[unsent.get().pk])
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/send/",
                self.admin_site.admin_view(self.send_view),
                name="registrations_mailing_send",
            ),
            *super().get_urls(),
        ]

    def send_view(self, request, object_id):
        """GET asks for confirmation; only the POST of that page sends."""
        mailing = self.get_object(request, unquote(object_id))
        if mailing is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request):
            raise PermissionDenied
        change_url = reverse("admin:registrations_mailing_change", args=[mailing.pk])
        if mailing.sent_at is not None:
            self.message_user(
                request, gettext("This mailing has already been sent."), messages.WARNING
            )
            return HttpResponseRedirect(change_url)

        if request.method == "POST":
            try:
                count = services.send_mailing(mailing, user=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                return HttpResponseRedirect(change_url)
            self.message_user(
                request,
                ngettext(
                    "The mailing was sent to %(count)d participant.",
                    "The mailing was sent to %(count)d participants, each separately.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(change_url)

        recipients = services.mailing_recipients(mailing)
        first = recipients.first()
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Send this mailing?"),
            "opts": self.opts,
            "original": mailing,
            "mailing": mailing,
            "recipient_count": recipients.count(),
            "first_recipient": first,
            "preview": emails.render_mailing(mailing, first, preview=True) if first else "",
            "change_url": change_url,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/registrations/mailing/send_confirmation.html", context
        )


# Capacity raised in the admin: the first people waiting move up at once.
# Registered here because events must not import registrations.
class SeatReservationInline(InlineRowsMixin, SafeAdminMixin, admin.TabularInline):
    model = SeatReservation
    extra = 0
    fields = ["offering", "role", "share", "released_at"]
    classes = ["collapse"]  # few events keep seats; the event's page is long enough

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "offering":
            event_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = SessionOffering.objects.filter(event_id=event_id).select_related(
                "session", "round", "last_round"
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


CONFIRMED_FIELD = "_programme_change_confirmed"


class ConsequencesToConfirm(Exception):
    """Raised inside the admin's save transaction to roll it back and show the plan."""

    def __init__(self, plan, error=""):
        super().__init__("programme change to confirm")
        self.plan = plan
        self.error = error


class ProgrammeChangeAdminMixin:
    """A change form whose save would touch booked people first shows what will happen
    (``programme_changes.plan``); only the confirmation, which posts the same form again
    with the organiser's decisions, saves it, carries the decisions out and tells
    everyone affected."""

    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        request._programme_formsets = formsets  # for save_model, which Django gives none
        return formsets, inline_instances

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ConsequencesToConfirm as pending:  # the save's transaction rolled back
            return self.consequences_response(request, pending.plan, error=pending.error)

    def edited(self, obj, formsets):
        """The stored objects the forms edit, as edited (not yet saved)."""
        found = {"blocks": [], "rounds": [], "offerings": [], "sessions": []}
        kinds = {
            ProgrammeBlock: "blocks",
            Round: "rounds",
            SessionOffering: "offerings",
            Session: "sessions",
        }
        if type(obj) in kinds:
            found[kinds[type(obj)]].append(obj)
        for formset in formsets:
            for form in formset.forms:
                instance = form.instance
                deleted = formset.can_delete and formset._should_delete_form(form)
                if type(instance) in kinds and instance.pk and form.has_changed() and not deleted:
                    found[kinds[type(instance)]].append(instance)
        return found

    def save_model(self, request, obj, form, change):
        changeover = None
        if change:
            event = obj if isinstance(obj, Event) else obj.event
            # Registrations wait from here to the commit: the plan misses none of them.
            lock_event(event)
            plan = programme_changes.plan(
                event,
                event_after=obj if isinstance(obj, Event) else None,
                **self.edited(obj, getattr(request, "_programme_formsets", [])),
            )
            if plan.touches_people:
                if request.POST.get(CONFIRMED_FIELD) != "1":
                    raise ConsequencesToConfirm(plan)
                try:
                    changeover = programme_changes.Changeover(
                        plan, _decisions(request.POST), user=request.user
                    )
                except ValidationError as refused:  # "do not notify" for a real change
                    raise ConsequencesToConfirm(plan, " ".join(refused.messages)) from None
                changeover.before_save()
            request._programme_plan = plan
        request._programme_changeover = changeover
        with _refusals_shown(request):
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        with _refusals_shown(request):
            super().save_related(request, form, formsets, change)
        changeover = getattr(request, "_programme_changeover", None)
        if changeover is not None:
            _report_told(self, request, changeover.after_save(), changeover.decisions.notify)

    def consequences_response(self, request, plan, error=""):
        confirmed, waiting = plan.counts()
        kept = [
            (name, value)
            for name, values in request.POST.lists()
            if name != CONFIRMED_FIELD and not name.startswith("_decide_")
            for value in values
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("What this change does to the people who booked"),
            "opts": self.opts,
            "plan": plan,
            "confirmed": confirmed,
            "waiting": waiting,
            "items": [emails.describe(item) for item in plan.general_items()],
            "kept": kept,
            "confirmed_field": CONFIRMED_FIELD,
            "back_url": request.get_full_path(),
            "error": error,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/programme_change/consequences.html", context)


@contextlib.contextmanager
def _refusals_shown(request):
    """A save that the bookings refuse (``registrations.bookings``: a move that would leave
    someone's rankings without a free rank) rolls back and shows the plan with the reason,
    instead of an error page."""
    try:
        yield
    except ValidationError as refused:
        plan = getattr(request, "_programme_plan", None)
        if plan is None:
            raise
        raise ConsequencesToConfirm(plan, " ".join(refused.messages)) from None


def _report_told(model_admin, request, told, notify=True):
    if not notify:
        model_admin.message_user(
            request, gettext("The correction was saved; nobody was e-mailed."), messages.SUCCESS
        )
        return
    model_admin.message_user(
        request,
        ngettext(
            "The change was saved; %(count)d participant is being e-mailed.",
            "The change was saved; %(count)d participants are being e-mailed.",
            len(told),
        )
        % {"count": len(told)},
        messages.SUCCESS,
    )


def _decisions(post):
    rules = set(programme_changes.CONFLICT_RULES)
    per_conflict = {
        int(name.removeprefix("_decide_conflict_")): value
        for name, value in post.items()
        if name.startswith("_decide_conflict_")
        and value in rules
        and name.removeprefix("_decide_conflict_").isdigit()
    }
    per_overflow = {
        int(name.removeprefix("_decide_capacity_")): value
        for name, value in post.items()
        if name.startswith("_decide_capacity_")
        and value in {programme_changes.OVERFLOW, programme_changes.TO_WAITING}
        and name.removeprefix("_decide_capacity_").isdigit()
    }
    rule = post.get("_decide_conflict_rule")
    return programme_changes.Decisions(
        conflict_rule=rule if rule in rules else programme_changes.KEEP_MOVED,
        per_conflict=per_conflict,
        per_overflow=per_overflow,
        note=post.get("_decide_note", "")[:1000],
        notify=post.get("_decide_notify") != "0",
    )


class CancelOfferingsMixin:
    """A "Cancel…" page for what people booked: it shows who is affected and, only when
    confirmed, cancels, releases them and invites them to choose again."""

    change_form_template = "admin/programme_change/change_form.html"

    def offerings_to_cancel(self, obj):
        raise NotImplementedError

    def cancellation_plan(self, obj):
        offerings = self.offerings_to_cancel(obj).select_related("session", "round")
        return programme_changes.plan(obj.event, cancel=list(offerings))

    def cancel(self, obj, plan, decisions, user):
        """Carry the cancellation out; returns the registrations told."""
        return programme_changes.cancel_offerings(obj.event, plan.cancelled, decisions, user=user)

    def get_urls(self):
        opts = self.opts
        return [
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name=f"{opts.app_label}_{opts.model_name}_cancel",
            ),
            *super().get_urls(),
        ]

    def cancel_view(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        opts = self.opts
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        plan = self.cancellation_plan(obj)
        error, told = "", None
        if request.method == "POST" and request.POST.get(CONFIRMED_FIELD) == "1":
            try:
                told = self.cancel(obj, plan, _decisions(request.POST), request.user)
            except ValidationError as refused:  # "do not notify" for a cancellation
                error = " ".join(refused.messages)
        if told is not None:
            self.message_user(
                request,
                ngettext(
                    "“%(name)s” is cancelled; %(count)d participant is being e-mailed.",
                    "“%(name)s” is cancelled; %(count)d participants are being e-mailed.",
                    len(told),
                )
                % {"name": obj, "count": len(told)},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(change_url)
        response = self.consequences_response(request, plan, error=error)
        response.context_data.update(
            {"kept": [], "back_url": request.get_full_path(), "return_url": change_url}
        )
        return response


class EventAdmin(CancelOfferingsMixin, ProgrammeChangeAdminMixin, events_admin.EventAdmin):
    inlines = [*events_admin.EventAdmin.inlines, SeatReservationInline]
    actions = [*events_admin.EventAdmin.actions, "draw_lottery"]
    change_form_template = "admin/programme_change/event_change_form.html"

    def cancellation_plan(self, event):
        return programme_changes.plan_event_cancellation(event)

    def cancel(self, event, plan, decisions, user):
        return programme_changes.cancel_event(event, decisions, user=user)

    @admin.action(
        description=_("Preference mode: draw the lottery (preview)"), permissions=["change"]
    )
    def draw_lottery(self, request, queryset):
        response = None
        for event in queryset.order_by("pk"):
            response = _run_allocation(self, request, event) or response
        return response if queryset.count() == 1 else None

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _report_promotions(self, request, services.fill_free_seats(form.instance))

    @transaction.atomic
    def programme_change(self, request, event, **edited):
        """The programme editor's changes to times, rounds, rooms and seats: first the
        consequences page when they touch booked people, saved only once confirmed."""
        lock_event(event)  # registrations wait: the plan misses none of them
        plan = programme_changes.plan(event, **edited)
        if plan.touches_people and request.POST.get(CONFIRMED_FIELD) != "1":
            return self.consequences_response(request, plan)
        decisions = _decisions(request.POST)
        try:
            told = programme_changes.change_programme(event, decisions, user=request.user, **edited)
        except ValidationError as refused:  # "do not notify" for a real change
            return self.consequences_response(request, plan, " ".join(refused.messages))
        if told or not decisions.notify:
            _report_told(self, request, told, decisions.notify)
        return None


class SessionAdmin(CancelOfferingsMixin, ProgrammeChangeAdminMixin, events_admin.SessionAdmin):
    def offerings_to_cancel(self, session):
        return session.offerings.current()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        _report_promotions(self, request, services.fill_free_seats(form.instance.event))


class SessionOfferingAdmin(
    CancelOfferingsMixin, ProgrammeChangeAdminMixin, events_admin.SessionOfferingAdmin
):
    def offerings_to_cancel(self, offering):
        return SessionOffering.objects.current().filter(pk=offering.pk)

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


class RoundAdmin(ProgrammeChangeAdminMixin, events_admin.RoundAdmin):
    pass


admin.site.unregister(Round)
admin.site.register(Round, RoundAdmin)
admin.site.unregister(Event)
admin.site.register(Event, EventAdmin)
admin.site.unregister(SessionOffering)
admin.site.register(SessionOffering, SessionOfferingAdmin)
admin.site.unregister(Session)
admin.site.register(Session, SessionAdmin)


@admin.register(QueuedEmail)
class QueuedEmailAdmin(SafeAdminMixin, admin.ModelAdmin):
    """The outbox: what was sent when, and what the mail server refused."""

    list_display = ["kind", "registration", "created_at", "sent_at", "attempts", "last_error"]
    list_filter = ["kind", ("sent_at", admin.EmptyFieldListFilter)]
    list_select_related = ["registration"]
    search_fields = ["registration__email", "registration__name"]
    fields = list_display + ["retry_after"]
    readonly_fields = fields
    date_hierarchy = "created_at"
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Try these e-mails again at the next run"), permissions=["change"])
    def retry(self, request, queryset):
        count = queryset.filter(sent_at=None).update(attempts=0, retry_after=None)
        self.message_user(
            request,
            ngettext(
                "%(count)d e-mail will be tried again.",
                "%(count)d e-mails will be tried again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(AllocationRun)
class AllocationRunAdmin(SafeAdminMixin, admin.ModelAdmin):
    """Lottery runs of preference-mode events: review, re-run, confirm."""

    list_display = ["event", "seed", "created_at", "created_by", "confirmed_at"]
    list_filter = [("event", admin.RelatedOnlyFieldListFilter), "confirmed_at"]
    search_fields = ["event__title", "seed"]
    list_select_related = ["event", "created_by"]
    fields = [
        "event",
        "seed",
        "created_at",
        "created_by",
        "confirmed_at",
        "confirmed_by",
        "outcome",
    ]
    readonly_fields = fields
    change_form_template = "admin/registrations/allocationrun/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is None or obj.confirmed_at is None

    @admin.display(description=_("outcome"))
    def outcome(self, run):
        return allocation_outcome_table(run)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="registrations_allocationrun_confirm",
            ),
            path(
                "<path:object_id>/rerun/",
                self.admin_site.admin_view(self.rerun_view),
                name="registrations_allocationrun_rerun",
            ),
            *super().get_urls(),
        ]

    def _run(self, request, object_id):
        run = self.get_object(request, unquote(object_id))
        if run is None:
            raise Http404
        if not self.has_change_permission(request, run):
            raise PermissionDenied
        return run

    def confirm_view(self, request, object_id):
        """GET shows what will happen; only the POST confirms and mails everyone."""
        run = self._run(request, object_id)
        change_url = reverse("admin:registrations_allocationrun_change", args=[run.pk])
        if request.method == "POST" and not run.confirmed_at:
            try:
                mailed = services.confirm_allocation(run, user=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Allocation confirmed; %(count)d participant is being e-mailed.",
                        "Allocation confirmed; %(count)d participants are being e-mailed.",
                        len(mailed),
                    )
                    % {"count": len(mailed)},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Confirm this allocation?"),
            "run": run,
            "opts": self.model._meta,
            "outcome": allocation_outcome_table(run),
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/registrations/allocationrun/confirm.html", context)

    def rerun_view(self, request, object_id):
        run = self._run(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(
                reverse("admin:registrations_allocationrun_change", args=[run.pk])
            )
        return _run_allocation(self, request, run.event)


def _run_allocation(model_admin, request, event):
    try:
        run = services.run_allocation(event, user=request.user)
    except ValidationError as error:
        model_admin.message_user(
            request, f"{event.title}: {' '.join(error.messages)}", messages.ERROR
        )
        return None
    model_admin.message_user(
        request,
        gettext("New lottery drawn for %(event)s (seed %(seed)s). Review it, then confirm.")
        % {"event": event.title, "seed": run.seed},
        messages.SUCCESS,
    )
    return HttpResponseRedirect(reverse("admin:registrations_allocationrun_change", args=[run.pk]))


def allocation_outcome_table(run):
    """The summary an organiser checks before confirming: choices met and fill per session."""
    rounds = {r.pk: r.title for r in run.event.rounds.all()}
    offerings = {
        o.pk: o for o in run.event.offerings.select_related("session", "round").order_by("pk")
    }
    round_rows = format_html_join(
        "",
        "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                rounds.get(int(round_id), round_id),
                counts["first"],
                counts["second"],
                counts["third"],
                counts["unplaced"],
            )
            for round_id, counts in sorted(
                run.summary.get("rounds", {}).items(), key=lambda item: int(item[0])
            )
        ),
    )
    fill_rows = format_html_join(
        "",
        "<tr><th scope='row'>{}</th><td>{}</td><td>{} / {}</td></tr>",
        (
            (
                offering.session.title,
                offering.round.title,
                seats,
                offering.capacity if offering.capacity is not None else "∞",
            )
            for offering_id, seats in sorted(
                run.summary.get("fill", {}).items(), key=lambda item: int(item[0])
            )
            if (offering := offerings.get(int(offering_id)))
        ),
    )
    return format_html(
        "<p>{}</p>"
        "<table><thead><tr><th scope='col'>{}</th><th scope='col'>{}</th><th scope='col'>{}</th>"
        "<th scope='col'>{}</th><th scope='col'>{}</th></tr></thead><tbody>{}</tbody></table>"
        "<h3>{}</h3><table><thead><tr><th scope='col'>{}</th><th scope='col'>{}</th>"
        "<th scope='col'>{}</th></tr></thead><tbody>{}</tbody></table>",
        gettext("%(count)s participants with an event seat took part in the lottery.")
        % {"count": run.summary.get("participants", 0)},
        gettext("Round"),
        gettext("1st choice"),
        gettext("2nd choice"),
        gettext("3rd choice"),
        gettext("Not placed (waiting list)"),
        round_rows,
        gettext("Seats given per session"),
        gettext("Session"),
        gettext("Round"),
        gettext("Seats"),
        fill_rows,
    )
