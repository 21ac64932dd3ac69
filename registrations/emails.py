"""E-mails to participants, in the language they registered in.

A service that changes a registration calls ``queue()`` inside its transaction: the
e-mail is stored in the outbox (``QueuedEmail``) with the change, so that it is never
lost and never sent for a change that rolled back. ``send_queued()`` renders it from
the committed state and delivers it: right after the commit when
``settings.EMAIL_DELIVERY`` is ``"immediate"``, otherwise from
``manage.py send_queued_email`` (a worker, or cron), which also retries e-mails that a
mail server refused.
"""

import datetime
import logging
import time

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Prefetch, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events.calendar import event_calendar
from events.models import time_range

from .models import Preference, QueuedEmail, Registration, SessionChoice
from .standing import standing

logger = logging.getLogger(__name__)


def _registrations():
    """Registrations with what their e-mails show."""
    return Registration.objects.select_related("event__venue", "event__series").prefetch_related(
        Prefetch(
            "choices",
            queryset=SessionChoice.objects.active()
            .select_related("offering__session__kind", "offering__round", "offering__last_round")
            .order_by("round__day", "round__starts_at"),
        ),
        Prefetch(
            "preferences",
            queryset=Preference.objects.select_related(
                "offering__session", "offering__round"
            ).order_by("offering__round__starts_at", "rank"),
        ),
    )


def _load(registration_pk):
    return _registrations().get(pk=registration_pk)


def calendar_line(offering):
    """'Ronde 1 (13:20–15:30): Excursie' for the calendar invitation's description."""
    return f"{offering.rounds_title} ({time_range(offering)}): {offering.session.title}"


def _message(registration, *, kind, subject, with_calendar, connection=None, details=None):
    """The e-mail as `registration` receives it now, in their language. `details`: for a
    programme change, what changed for them and the organiser's note."""
    details = details or {}
    with translation.override(registration.language):
        # Before the allocation, a preference-mode registration has rankings only.
        awaiting_allocation = (
            registration.event.uses_preferences and not registration.event.allocated_at
        )
        context = {
            "change_lines": [describe(item) for item in details.get("items", [])],
            "change_note": details.get("note", ""),
            "registration": registration,
            "event": registration.event,
            "kind": kind,
            "standing": standing(registration) if registration.is_active else None,
            "awaiting_allocation": awaiting_allocation,
            "preferences": list(registration.preferences.all()) if awaiting_allocation else [],
            "manage_url": f"{settings.SITE_URL}{registration.get_absolute_url()}",
            "event_url": f"{settings.SITE_URL}{registration.event.get_absolute_url()}",
        }
        text = render_to_string("registrations/email/message.txt", context)
        html = render_to_string("registrations/email/message.html", context)
        message = EmailMultiAlternatives(
            subject=str(subject) % {"event": registration.event.title},
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[registration.email],
            connection=connection,
        )
        message.attach_alternative(html, "text/html")
        # A cancelled registration's calendar entry is removed by its cancellation, or
        # by the programme change that cancelled it (the whole event called off).
        removed = kind in (Kind.CANCELLATION, Kind.PROGRAMME_CHANGE)
        if with_calendar and (registration.is_active or removed):
            lines = context["standing"].choices if context["standing"] else []  # None: cancelled
            sessions = "\n".join(
                f"{calendar_line(line.offering)} ({line.status})" for line in lines
            )
            # The same entry each time (its UID), replaced by a newer version (SEQUENCE).
            calendar = event_calendar(
                registration.event,
                settings.SITE_URL,
                extra_description=sessions,
                sequence=registration.event.calendar_sequence,
                cancelled=not registration.is_active,
            )
            message.attach("uitnodiging.ics", calendar.to_ical(), "text/calendar")
    return message


# Subjects are lazy: `_message` formats them inside the participant's language.
Kind = QueuedEmail.Kind
SUBJECTS = {
    Kind.CONFIRMATION: gettext_lazy("Your registration for %(event)s"),
    Kind.CHANGED: gettext_lazy("Changed: your registration for %(event)s"),
    Kind.ALLOCATION: gettext_lazy("Your places at %(event)s"),
    Kind.LINK: gettext_lazy("Your registration for %(event)s"),
    Kind.PROMOTION: gettext_lazy("A place has become available: %(event)s"),
    Kind.CANCELLATION: gettext_lazy("Cancelled: your registration for %(event)s"),
    Kind.PROGRAMME_CHANGE: gettext_lazy("Programme change: %(event)s"),
}


# Which kinds carry the calendar invitation (.ics) of the event.
WITH_CALENDAR = {
    Kind.CONFIRMATION,
    Kind.CHANGED,
    Kind.ALLOCATION,
    Kind.PROMOTION,
    Kind.PROGRAMME_CHANGE,
    Kind.CANCELLATION,  # removes the entry from the calendar (METHOD:CANCEL)
}
# A message the mail server refused this often is left for a person to look at.
MAX_ATTEMPTS = 10
# How many queued e-mails' registrations send_queued() reads at a time.
LOAD_BATCH = 25


def outbox_row(registration_pk, kind):
    """A `kind` e-mail for the registration, not yet stored: for the caller to write with
    its other rows (``EventSeats.write``). Delivered once the transaction commits."""
    if kind not in SUBJECTS:  # A mailing has its own subject: queue_mailing().
        raise ValueError(f"Unknown e-mail kind {kind!r}")
    queued = QueuedEmail(registration_id=registration_pk, kind=kind)
    deliver_after_commit([queued])
    return queued


def programme_change_row(registration_pk, details):
    """A programme-change e-mail, not yet stored: `details` holds what changed for the
    person ({"items": [...], "note": ...}); the caller stores the rows and passes them
    to ``deliver_after_commit``."""
    return QueuedEmail(
        registration_id=registration_pk, kind=QueuedEmail.Kind.PROGRAMME_CHANGE, details=details
    )


def tell_session_staff(event, offering_pks, items, note=""):
    """E-mail the session leaders and moderators of the offerings a programme change
    touched, once per address, after the commit: the users moderating them and the
    people appearing in their sessions (a speaker profile's address; many have no user
    account)."""
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mass_mail

    from events.models import SessionRole

    users = get_user_model().objects.filter(moderated_offerings__in=offering_pks)
    speakers = SessionRole.objects.filter(session__offerings__in=offering_pks)
    found = [
        *users.values_list("email", flat=True),
        *speakers.values_list("speaker__email", flat=True),
    ]
    # Once per address, however it is spelt, and whoever holds it.
    staff = sorted({address.lower(): address for address in found if address}.values())
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Programme change: %(event)s") % {"event": event.title}
        lines = [
            _("The programme of %(event)s has changed:") % {"event": event.title},
            *(f"- {describe(item)}" for item in items),
        ]
        if note:
            lines += ["", _("A note from the organisers:") + f" {note}"]
    body = "\n".join(lines) + "\n"
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in staff]
    if messages:
        transaction.on_commit(lambda: send_mass_mail(messages), robust=True)
    return len(messages)


def queue(registration_pk, kind):
    """Put a `kind` e-mail for the registration in the outbox, in the current transaction."""
    queued = outbox_row(registration_pk, kind)
    queued.save()
    return queued


def deliver_after_commit(rows):
    """With immediate delivery, send the queued e-mails `rows` once the transaction
    commits (by then they are stored); otherwise they wait for the worker
    (send_queued_email)."""
    if settings.EMAIL_DELIVERY != "immediate":
        return

    def deliver():
        send_queued([row.pk for row in rows])

    # Robust: a failure (mail server or database) leaves the e-mails queued for the next
    # send_queued_email run and does not turn the committed change into an error. (A
    # named function: Django's log line for a failed robust callback needs its
    # __qualname__, which functools.partial lacks.)
    transaction.on_commit(deliver, robust=True)


def send_queued(pks=None, *, limit=None, pace=None, stop=None):
    """Deliver queued e-mails, oldest first; returns (sent, failed).

    ``pace``, if given, is called after each e-mail with the seconds spent on it before
    it went to the mail server (the database and rendering, not the wait for the mail
    server), and may pause the worker (see ``send_queued_email``). ``stop``, if given, is
    asked before each e-mail whether to stop.

    Each e-mail is locked (workers skip rows another one holds), rendered from the
    state of its registration (read with those of the next e-mails in the queue) and
    marked sent in a transaction of its own, and sent once that has committed. A
    database that fails on the way therefore leaves the e-mail queued, never sent
    twice. A mail server that refuses it puts it back in the queue, with
    the count and its exception's name (no personal data), to be retried after a
    growing pause, up to MAX_ATTEMPTS times. Only when the database also fails at that
    very moment is the e-mail lost (it stays marked sent).
    """
    sent = failed = 0
    tried = set()
    # The registrations of the next e-mails in the queue, read together (three queries
    # for a batch instead of for each e-mail). Each is used once, for the e-mail it was
    # read for, and is at most a batch old.
    loaded = {}
    connection = get_connection()
    try:
        while (limit is None or sent + failed < limit) and not (stop and stop()):
            started = time.monotonic()
            with transaction.atomic():
                # An e-mail handled in this run leaves these (sent, or to be retried
                # later); the ids are not excluded in SQL, which grew with every e-mail
                # of a long queue, but checked below.
                pending = QueuedEmail.objects.filter(
                    sent_at=None, attempts__lt=MAX_ATTEMPTS
                ).filter(Q(retry_after=None) | Q(retry_after__lte=timezone.now()))
                if pks is not None:
                    pending = pending.filter(pk__in=pks)
                queued = (
                    pending.select_related("mailing")
                    .select_for_update(skip_locked=True, of=("self",))
                    .order_by("created_at", "pk")
                    .first()
                )
                if queued is None or queued.pk in tried:
                    break
                tried.add(queued.pk)
                queued.attempts += 1
                try:
                    # A savepoint: a failed query while rendering must not abort the
                    # transaction that records the failure.
                    with transaction.atomic():
                        if queued.registration_id not in loaded:
                            upcoming = pending.order_by("created_at", "pk").values_list(
                                "registration_id", flat=True
                            )[:LOAD_BATCH]
                            loaded = _registrations().in_bulk({queued.registration_id, *upcoming})
                        message = _queued_message(
                            queued,
                            registration=loaded.pop(queued.registration_id, None),
                            connection=connection,
                        )
                except Exception as error:  # noqa: BLE001 - kept on the row, retried
                    message = None
                    _note_failure(queued, error)
                else:
                    queued.sent_at = timezone.now()
                    queued.last_error = ""
                queued.save(update_fields=["attempts", "sent_at", "last_error", "retry_after"])
            worked = time.monotonic() - started
            if message is None:
                failed += 1
            else:
                try:
                    message.send()
                except Exception as error:  # noqa: BLE001 - kept on the row, retried
                    _note_failure(queued, error)
                    queued.sent_at = None
                    queued.save(update_fields=["sent_at", "last_error", "retry_after"])
                    failed += 1
                else:
                    # Ids only: no personal data in logs.
                    logger.info(
                        "Sent %s e-mail for registration %s", queued.kind, queued.registration_id
                    )
                    sent += 1
            if pace is not None:
                pace(worked)
    finally:
        connection.close()
    return sent, failed


def _note_failure(queued, error):
    queued.last_error = type(error).__name__
    # Wait 2, 4, 8 ... minutes, at most an hour, before the next attempt.
    queued.retry_after = timezone.now() + datetime.timedelta(minutes=min(2**queued.attempts, 60))
    # Ids and the error's class only: no personal data in logs.
    logger.warning(
        "Could not send %s e-mail %s (attempt %s): %s",
        queued.kind,
        queued.pk,
        queued.attempts,
        queued.last_error,
    )


def _queued_message(queued, *, registration=None, connection=None):
    registration = registration or _load(queued.registration_id)
    if queued.kind == queued.Kind.MAILING:
        return EmailMessage(
            subject=queued.mailing.subject,
            body=render_mailing(queued.mailing, registration),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[registration.email],
            connection=connection,
        )
    return _message(
        registration,
        kind=queued.kind,
        subject=SUBJECTS[queued.kind],
        with_calendar=queued.kind in WITH_CALENDAR,
        connection=connection,
        details=queued.details,
    )


def render_mailing(mailing, registration, *, preview=False):
    """The text of `mailing` as `registration` receives it, in their language.

    The `preview` for organisers leaves the personal link out: it opens the person's page.
    """
    body = mailing.body.replace("\r\n", "\n").strip()
    with translation.override(registration.language):
        link = f"{settings.SITE_URL}{registration.get_absolute_url()}"
        lines = [
            _("Dear %(name)s,") % {"name": registration.name},
            "",
            body,
            "",
            _("See, change or cancel your registration with your personal link:"),
            _("(the participant's personal link)") if preview else link,
        ]
    return "\n".join(lines) + "\n"


def queue_mailing(mailing, registration_pks):
    """Put a copy of `mailing` for each registration in the outbox, in the current
    transaction: each participant gets their own e-mail, so nobody sees another's
    address, and one that the mail server refuses is tried again like any other."""
    queued = QueuedEmail.objects.bulk_create(
        [
            QueuedEmail(registration_id=pk, kind=QueuedEmail.Kind.MAILING, mailing=mailing)
            for pk in registration_pks
        ],
        batch_size=500,
    )
    deliver_after_commit(queued)
    return queued


def describe(item):
    """One line saying what changed, in the active language."""
    kind = item["kind"]
    if kind == "event":
        return _("The date, time or place of the event changed: now %(now)s (was %(was)s).") % item
    if kind == "time":
        return _("%(title)s now takes place %(now)s (was %(was)s).") % item
    if kind == "location":
        return _("%(session)s is now in %(now)s (was %(was)s).") % {
            **item,
            "was": item["was"] or "–",
            "now": item["now"] or "–",
        }
    if kind == "moved":
        return _("%(session)s moved from %(was)s to %(now)s; your place moved with it.") % item
    if kind == "dropped":
        return (
            _(
                "You no longer have %(session)s (%(round)s): it clashed with the moved session. "
                "Choose again through your personal link if you like."
            )
            % item
        )
    if kind == "requeued":
        return (
            _(
                "You are now on the waiting list of %(session)s, behind those already "
                "waiting; you get an e-mail when a place becomes yours."
            )
            % item
        )
    if kind == "corrected":
        return _("Corrected: “%(was)s” is now called “%(now)s”.") % item
    if kind == "event_cancelled":
        return _("%(event)s has been cancelled.") % item
    if kind == "to_waiting":
        return _("%(session)s has fewer seats now; you are at the top of its waiting list.") % item
    if kind == "cancelled":
        return (
            _(
                "%(session)s (%(round)s) has been cancelled. Choose another session of that "
                "round through your personal link."
            )
            % item
        )
    return ""
