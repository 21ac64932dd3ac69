import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from registrations import emails
from registrations.models import QueuedEmail

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Send the participant e-mails waiting in the outbox. Run it with --loop as a worker "
        "when DJANGO_EMAIL_DELIVERY=queue, and from cron (e.g. every 5 minutes) in any "
        "case, to retry e-mails the mail server refused. Several may run at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop",
            action="store_true",
            help="Keep running: look for new e-mails every --interval seconds until stopped.",
        )
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument(
            "--until-empty",
            action="store_true",
            help="With --loop: stop once nothing is left to send (benchmarks, tests).",
        )

    def handle(self, *args, **options):
        self.stopping = False
        if options["loop"]:
            # Finish the e-mail in hand, then stop (systemd, supervisord and docker send TERM).
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        total_sent = total_failed = 0
        while True:
            try:
                sent, failed = emails.send_queued()
            except DatabaseError as error:
                if not options["loop"]:
                    raise
                # The database is away (restart, failover): wait, reconnect, go on.
                logger.warning("Outbox unavailable: %s", type(error).__name__)
                close_old_connections()
                time.sleep(options["interval"])
                continue
            total_sent += sent
            total_failed += failed
            if not options["loop"] or self.stopping:
                break
            if options["until_empty"] and not sent and not self._pending():
                break
            if not sent:
                close_old_connections()  # let a long-running worker survive a database restart
                time.sleep(options["interval"])
        if options["verbosity"] >= 1:
            self.stdout.write(f"{total_sent} e-mails sent, {total_failed} failed.")
        stuck = QueuedEmail.objects.filter(sent_at=None, attempts__gte=emails.MAX_ATTEMPTS)
        if stuck.exists():
            self.stderr.write(
                f"{stuck.count()} e-mails failed {emails.MAX_ATTEMPTS} times and are no longer "
                "retried; see 'Queued e-mails' in the admin."
            )

    def _pending(self):
        return QueuedEmail.objects.filter(sent_at=None, attempts__lt=emails.MAX_ATTEMPTS).exists()

    def _stop(self, signum, frame):
        self.stopping = True
