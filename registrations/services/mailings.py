"""Organisers' messages to the confirmed participants of an event or of one session."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import emails
from ..models import Mailing, Registration, Status
from ..seats import lock_event

logger = logging.getLogger(__name__)


def mailing_recipients(mailing: Mailing) -> QuerySet[Registration]:
    """The confirmed participants of the mailing's event, or of its one offering."""
    recipients = Registration.objects.filter(event_id=mailing.event_id, status=Status.CONFIRMED)
    if mailing.offering_id:
        recipients = recipients.filter(
            choices__offering_id=mailing.offering_id, choices__status=Status.CONFIRMED
        ).distinct()
    return recipients.order_by("created_at", "pk")


@transaction.atomic
def send_mailing(mailing: Mailing, *, user) -> int:
    """Send `mailing` once, to each confirmed recipient in a separate e-mail, through the
    outbox (written in this transaction, sent after it commits or by the worker).

    Returns the number of recipients. A mailing that was sent already is left alone
    (returns its stored count), so repeating the call never mails anyone twice.
    Raises ValidationError(code="no_recipients") when nobody would receive it.
    """
    lock_event(mailing.event)
    mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
    if mailing.sent_at is not None:
        return mailing.recipient_count
    recipient_ids = list(mailing_recipients(mailing).values_list("pk", flat=True))
    if not recipient_ids:
        raise ValidationError(
            _("Nobody would receive this mailing: there are no confirmed participants."),
            code="no_recipients",
        )
    mailing.sent_at = timezone.now()
    mailing.recipient_count = len(recipient_ids)
    mailing.save(update_fields=["sent_at", "recipient_count"])
    emails.queue_mailing(mailing, recipient_ids)
    # Ids and counts only: no personal data in logs.
    logger.info(
        "Mailing %s queued by user %s for %s recipients", mailing.pk, user.pk, len(recipient_ids)
    )
    return mailing.recipient_count
