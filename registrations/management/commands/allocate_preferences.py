from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.utils import timezone

from events.models import Event
from registrations import services


class Command(BaseCommand):
    help = (
        "For preference-mode events whose deadline has passed: draw a lottery and compute "
        "the assignment for the organiser to review (once per event). With --confirm, also "
        "confirm the latest run and e-mail everyone. Idempotent: safe to run from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--confirm",
            action="store_true",
            help="Confirm the latest run of each event (unattended use).",
        )

    def handle(self, *args, confirm=False, **options):
        now = timezone.now()
        events = Event.objects.filter(
            allocation_mode=Event.AllocationMode.PREFERENCE,
            allocated_at__isnull=True,
            preferences_close_at__lte=now,
        ).order_by("pk")
        for event in events:
            run = event.allocation_runs.filter(confirmed_at__isnull=True).first()
            try:
                if run is None:
                    run = services.run_allocation(event, now=now)
                    self.stdout.write(f"{event.slug}: allocation run {run.pk} (seed {run.seed})")
                if confirm:
                    mailed = services.confirm_allocation(run, now=now)
                    self.stdout.write(f"{event.slug}: confirmed, {len(mailed)} participants mailed")
            except ValidationError as error:
                self.stderr.write(f"{event.slug}: {' '.join(error.messages)}")
