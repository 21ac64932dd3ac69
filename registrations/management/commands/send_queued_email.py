import datetime
import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

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
        parser.add_argument(
            "--busy-share",
            type=float,
            default=settings.EMAIL_WORKER_BUSY_SHARE,
            help="While e-mails are being queued (a registration rush), work at most this "
            "share of the time, leaving the rest to the site; 1 for no pauses "
            "(default: DJANGO_EMAIL_WORKER_BUSY_SHARE, %(default)s).",
        )

    def handle(self, *args, **options):
        if not 0 < options["busy_share"] <= 1:
            raise CommandError("--busy-share must be more than 0 and at most 1.")
        pace = Pacer(options["busy_share"]) if options["busy_share"] < 1 else None
        self.stopping = False
        if options["loop"]:
            # Finish the e-mail in hand, then stop (systemd, supervisord and docker send TERM).
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
        total_sent = total_failed = 0
        while True:
            try:
                sent, failed = emails.send_queued(pace=pace, stop=lambda: self.stopping)
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


class Pacer:
    """Keeps the worker to a share of the time while e-mails are being queued.

    On a machine that also serves the site, a worker at full speed during a registration
    rush takes CPU (its own and PostgreSQL's) from the requests. While an e-mail has been
    queued within the last ``window`` seconds and is not sent yet, the worker pauses
    after each e-mail so that it works ``share`` of the time: with 0.2, an e-mail that
    took 10 ms to read and render is followed by 40 ms of rest (the wait for the mail
    server costs this machine nothing and does not count). E-mails then go out a little
    later during the rush, and at full speed once it is over. Whether the rush goes on
    is read from the database at most every ``check_every`` seconds.
    """

    window = 1.0
    check_every = 0.5

    def __init__(self, share, sleep=time.sleep):
        self.share = share
        self.sleep = sleep
        self.busy = False
        self.checked_at = None

    def __call__(self, elapsed):
        now = time.monotonic()
        if self.checked_at is None or now - self.checked_at >= self.check_every:
            self.busy = self.being_queued()
            self.checked_at = now
        if self.busy:
            self.sleep(elapsed * (1 - self.share) / self.share)

    def being_queued(self):
        since = timezone.now() - datetime.timedelta(seconds=self.window)
        return QueuedEmail.objects.filter(sent_at=None, created_at__gte=since).exists()
