"""Anonymise registrations a number of days after their event; meant for a daily cron job.

The registrations of events that ended at least --days days ago are anonymised, and so is
the admin history of registrations deleted that long ago (registrations.services.
anonymisation says what is kept). Running it again changes nothing.
"""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from events.models import Event
from registrations.models import Registration
from registrations.services.anonymisation import (
    ANONYMISED_DOMAIN,
    anonymise,
    anonymise_history_left_behind,
    anonymise_history_of_deleted,
)


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
        of_ended_events = Registration.objects.filter(event__in=events)
        registrations = of_ended_events.exclude(email__endswith=f"@{ANONYMISED_DOMAIN}")
        event_count = registrations.values("event").distinct().count()
        if dry_run:
            count = registrations.count()
            verb = "Would anonymise"
        else:
            count = anonymise(registrations)
            anonymise_history_left_behind(of_ended_events)
            anonymise_history_of_deleted(before=timezone.now() - datetime.timedelta(days=days))
            verb = "Anonymised"
        # Counts only: the output ends up in cron mail and logs.
        self.stdout.write(
            f"{verb} {count} registrations of {event_count} events that ended on or before "
            f"{cutoff:%Y-%m-%d}."
        )
