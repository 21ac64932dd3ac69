"""Anonymising registrations: what identifies a person is overwritten, the counts stay.

What identifies a person (name, e-mail address, organisation, function, question and the
personal-link code) is overwritten; what the statistics need stays: the event, status,
role, language, the session choices with their status, and the dates of registration,
cancellation and check-in. The admin history keeps what was done and which fields changed,
but no longer names the person. Running it again changes nothing.
"""

import json

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext

from ..models import QueuedEmail, Registration, new_token

ANONYMISED_DOMAIN = "anonymised.invalid"  # .invalid never resolves (RFC 2606)
BATCH_SIZE = 500


def anonymise(registrations):
    """Overwrite the personal data of `registrations`; returns how many were changed."""
    with translation.override(settings.LANGUAGE_CODE):
        placeholder = gettext("Anonymised participant")
    history = registration_history()
    pks = list(registrations.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), BATCH_SIZE):
        with transaction.atomic():
            batch = list(
                Registration.objects.select_for_update().filter(
                    pk__in=pks[start : start + BATCH_SIZE]
                )
            )
            now = timezone.now()
            for registration in batch:
                registration.name = placeholder
                registration.email = f"anonymised-{registration.pk}@{ANONYMISED_DOMAIN}"
                registration.organisation = ""
                registration.function = ""
                registration.question = ""
                # A new code: the old personal link stops working.
                registration.token = new_token()
                registration.updated_at = now
            Registration.objects.bulk_update(
                batch,
                ["name", "email", "organisation", "function", "question", "token", "updated_at"],
            )
            # E-mails still waiting for them would go to the placeholder address.
            QueuedEmail.objects.filter(registration__in=batch, sent_at=None).delete()
            anonymise_history(history.filter(object_id__in=[str(r.pk) for r in batch]))
    return len(pks)


def registration_history():
    """The admin's history entries (django_admin_log) about registrations."""
    return LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Registration))


def anonymise_history_left_behind(registrations):
    """Anonymise the history of `registrations` already anonymised, by a run that left it
    (before it did history) or in an admin edit since: entries not yet renamed."""
    anonymised = (
        registrations.filter(email__endswith=f"@{ANONYMISED_DOMAIN}")
        .annotate(key=Cast("pk", models.TextField()))
        .values("key")
    )
    label, _ = _history_texts()
    anonymise_history(
        registration_history()
        .filter(object_id__in=anonymised)
        .exclude(object_repr__startswith=f"{label} #")
    )


def anonymise_history_of_deleted(*, before):
    """Anonymise the history of registrations deleted in the admin, once it is old enough."""
    existing = Registration.objects.annotate(key=Cast("pk", models.TextField())).values("key")
    label, _ = _history_texts()
    anonymise_history(
        registration_history()
        .filter(action_time__lt=before)
        .exclude(object_id__in=existing)
        .exclude(object_repr__startswith=f"{label} #")  # done on an earlier night
    )


def _history_texts():
    with translation.override(settings.LANGUAGE_CODE):
        return gettext("Anonymised registration"), gettext("anonymised")


def anonymise_history(entries):
    """Replace the person's name in history `entries` ("Anna – Buurtdag") by the row's id."""
    label, hidden = _history_texts()
    entries = list(entries)
    for entry in entries:
        entry.object_repr = f"{label} #{entry.object_id}"
        entry.change_message = _without_names(entry.change_message, hidden)
    LogEntry.objects.bulk_update(entries, ["object_repr", "change_message"])


def _without_names(change_message, hidden):
    """The admin's JSON change message, its changed fields kept and objects' names hidden."""
    try:
        messages = json.loads(change_message)
    except json.JSONDecodeError:
        return ""  # free text (or empty, as for a deletion): it may say anything
    if not isinstance(messages, list):
        return ""
    return json.dumps(
        [
            {
                action: {**details, "object": hidden} if "object" in details else details
                for action, details in message.items()
                if isinstance(details, dict)
            }
            for message in messages
            if isinstance(message, dict)
        ]
    )
