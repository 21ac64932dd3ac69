"""E-mails to participants, in the language they registered in.

Each function takes a primary key because it runs after the transaction commits
(``transaction.on_commit``) and reads the committed state.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events.calendar import event_calendar

logger = logging.getLogger(__name__)


def _load(registration_pk):
    from .models import Preference, Registration, SessionChoice

    return (
        Registration.objects.select_related("event__venue", "event__series")
        .prefetch_related(
            Prefetch(
                "choices",
                queryset=SessionChoice.objects.active()
                .select_related("offering__session", "offering__round")
                .order_by("round__day", "round__starts_at"),
            ),
            Prefetch(
                "preferences",
                queryset=Preference.objects.select_related(
                    "offering__session", "offering__round"
                ).order_by("offering__round__starts_at", "rank"),
            ),
        )
        .get(pk=registration_pk)
    )


def _choice_lines(registration):
    from .services import waiting_position

    lines = []
    for choice in registration.choices.all():
        lines.append({"choice": choice, "position": waiting_position(choice)})
    return lines


def _send(registration, *, kind, subject, with_calendar):
    with translation.override(registration.language):
        context = {
            "registration": registration,
            "event": registration.event,
            "kind": kind,
            "choices": _choice_lines(registration),
            "event_position": None,
            # Before the allocation, a preference-mode registration has rankings only.
            "preferences": list(registration.preferences.all())
            if registration.event.uses_preferences and not registration.event.allocated_at
            else [],
            "manage_url": f"{settings.SITE_URL}{registration.get_absolute_url()}",
            "event_url": f"{settings.SITE_URL}{registration.event.get_absolute_url()}",
        }
        if registration.status == registration.Status.WAITING:
            from .services import waiting_position

            context["event_position"] = waiting_position(registration)
        text = render_to_string("registrations/email/message.txt", context)
        html = render_to_string("registrations/email/message.html", context)
        message = EmailMultiAlternatives(
            subject=str(subject) % {"event": registration.event.title},
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[registration.email],
        )
        message.attach_alternative(html, "text/html")
        if with_calendar and registration.is_active:
            sessions = "\n".join(
                f"{line['choice'].offering.round.title}: {line['choice'].offering.session.title}"
                for line in context["choices"]
            )
            calendar = event_calendar(
                registration.event, settings.SITE_URL, extra_description=sessions
            )
            message.attach("uitnodiging.ics", calendar.to_ical(), "text/calendar")
        message.send()
    # Log the registration id only: no personal data in logs.
    logger.info("Sent %s e-mail for registration %s", kind, registration.pk)


# Subjects are lazy: `_send` formats them inside the participant's language.
SUBJECTS = {
    "confirmation": gettext_lazy("Your registration for %(event)s"),
    "changed": gettext_lazy("Changed: your registration for %(event)s"),
    "allocation": gettext_lazy("Your places at %(event)s"),
    "link": gettext_lazy("Your registration for %(event)s"),
    "promotion": gettext_lazy("A place has become available: %(event)s"),
    "cancellation": gettext_lazy("Cancelled: your registration for %(event)s"),
}


def _send_kind(registration_pk, kind, *, with_calendar):
    registration = _load(registration_pk)
    _send(registration, kind=kind, subject=SUBJECTS[kind], with_calendar=with_calendar)


def send_confirmation(registration_pk, *, changed=False):
    _send_kind(registration_pk, "changed" if changed else "confirmation", with_calendar=True)


def send_allocation_result(registration_pk):
    _send_kind(registration_pk, "allocation", with_calendar=True)


def send_personal_link(registration_pk):
    _send_kind(registration_pk, "link", with_calendar=False)


def send_promotion(registration_pk):
    _send_kind(registration_pk, "promotion", with_calendar=True)


def send_cancellation(registration_pk):
    _send_kind(registration_pk, "cancellation", with_calendar=False)


def render_mailing(mailing, registration):
    """The text of `mailing` as `registration` receives it, in their language."""
    body = mailing.body.replace("\r\n", "\n").strip()
    with translation.override(registration.language):
        lines = [
            _("Dear %(name)s,") % {"name": registration.name},
            "",
            body,
            "",
            _("See, change or cancel your registration with your personal link:"),
            f"{settings.SITE_URL}{registration.get_absolute_url()}",
        ]
    return "\n".join(lines) + "\n"


def send_mailing(mailing_pk, registration_pks):
    """Mail each registration its own copy, so no one sees another's address.

    One failed address does not stop the others; failures are logged by id.
    """
    from .models import Mailing, Registration

    mailing = Mailing.objects.get(pk=mailing_pk)
    registrations = Registration.objects.filter(pk__in=registration_pks).order_by("pk")
    sent = 0
    with get_connection() as connection:
        for registration in registrations:
            message = EmailMessage(
                subject=mailing.subject,
                body=render_mailing(mailing, registration),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[registration.email],
                connection=connection,
            )
            try:
                message.send()
            except Exception:
                logger.exception(
                    "Mailing %s failed for registration %s", mailing.pk, registration.pk
                )
            else:
                sent += 1
    # Ids and counts only: no personal data in logs.
    logger.info("Mailing %s delivered %s of %s e-mails", mailing.pk, sent, len(registration_pks))
