"""Anonymise registrations a number of days after their event; meant for a daily cron job.

What identifies a person (name, e-mail address, organisation, function, question and the
personal-link code) is overwritten; what the statistics need stays: the event, status,
role, language, the session choices with their status, and the dates of registration,
cancellation and check-in. Running it again changes nothing.
"""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from events.models import Event
from registrations.models import QueuedEmail, Registration, new_token

ANONYMISED_DOMAIN = "anonymised.invalid"  # .invalid never resolves (RFC 2606)
BATCH_SIZE = 500


class Command(BaseCommand):
    help = (
        "Anonymise the registrations of events that ended at least --days days ago "
        "(default: DJANGO_REGISTRATION_RETENTION_DAYS, 90), keeping the counts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Days after an event's last day (default: settings.REGISTRATION_RETENTION_DAYS).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only report how many would be anonymised."
        )

    def handle(self, *args, days=None, dry_run=False, **options):
        days = settings.REGISTRATION_RETENTION_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days cannot be negative.")
        cutoff = timezone.localdate() - datetime.timedelta(days=days)
        events = Event.objects.filter(
            Q(end_date__lte=cutoff) | Q(end_date__isnull=True, start_date__lte=cutoff)
        )
        registrations = Registration.objects.filter(event__in=events).exclude(
            email__endswith=f"@{ANONYMISED_DOMAIN}"
        )
        event_count = registrations.values("event").distinct().count()
        if dry_run:
            count = registrations.count()
            verb = "Would anonymise"
        else:
            count = anonymise(registrations)
            verb = "Anonymised"
        # Counts only: the output ends up in cron mail and logs.
        self.stdout.write(
            f"{verb} {count} registrations of {event_count} events that ended on or before "
            f"{cutoff:%Y-%m-%d}."
        )


def anonymise(registrations):
    """Overwrite the personal data of `registrations`; returns how many were changed."""
    with translation.override(settings.LANGUAGE_CODE):
        placeholder = gettext("Anonymised participant")
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
    return len(pks)
