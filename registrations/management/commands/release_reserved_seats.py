from django.core.management.base import BaseCommand
from django.utils import timezone

from events.models import Event
from registrations import services


class Command(BaseCommand):
    help = (
        "Give released reserved seats to the people waiting for them. Meant for cron "
        "(e.g. every 15 minutes); safe to run as often as you like."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        events = Event.objects.upcoming().filter(seat_reservations__released_at__lte=now)
        total = 0
        for event in events.distinct().order_by("pk"):
            promoted = services.fill_free_seats(event)
            total += len(promoted)
            if promoted:
                self.stdout.write(f"{event.slug}: {len(promoted)} moved up")
        if options["verbosity"] >= 1:
            self.stdout.write(f"{total} people moved up from waiting lists.")
