import functools
import operator
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


def new_token():
    """An unguessable personal-link token: 32 random bytes (256 bits), URL-safe."""
    return secrets.token_urlsafe(32)


class Status(models.TextChoices):
    CONFIRMED = "confirmed", _("confirmed")
    WAITING = "waiting", _("waiting list")
    CANCELLED = "cancelled", _("cancelled")


class SeatQuerySet(models.QuerySet):
    """Registrations and session choices both hold a seat, a queue place, or nothing."""

    def active(self):
        return self.exclude(status=Status.CANCELLED)

    def confirmed(self):
        return self.filter(status=Status.CONFIRMED)

    def waiting(self):
        """In queue order: first come, first served."""
        return self.filter(status=Status.WAITING).order_by("created_at", "pk")

    def waiting_position(self, item):
        """`item`'s 1-based place on its waiting list, or None when it is not waiting.

        A registration waits for its event, a session choice for its offering.
        """
        return self.waiting_positions([item]).get(item.pk)

    def waiting_positions(self, items):
        """{pk: 1-based place on its waiting list} of those of `items` that wait, in one
        query however many there are (``waiting_position`` for each, batched)."""
        waiting = [item for item in items if item.status == Status.WAITING]
        if not waiting:
            return {}
        queues = functools.reduce(operator.or_, (Q(**item.queue()) for item in waiting))
        ahead = (
            self.waiting()
            .filter(queues)
            .aggregate(
                **{f"ahead_{item.pk}": Count("pk", filter=self._ahead_of(item)) for item in waiting}
            )
        )
        return {item.pk: ahead[f"ahead_{item.pk}"] + 1 for item in waiting}

    @staticmethod
    def _ahead_of(item):
        """Who waits before `item` in its line: the order of ``waiting()``."""
        return Q(**item.queue()) & (
            Q(created_at__lt=item.created_at) | Q(created_at=item.created_at, pk__lt=item.pk)
        )


class Registration(models.Model):
    """A person's place at one event: confirmed, on the waiting list, or cancelled."""

    class Role(models.TextChoices):
        RESIDENT = "resident", _("resident")
        CIVIL_SERVANT = "civil_servant", _("civil servant")
        PROFESSIONAL = "professional", _("professional")
        ENTREPRENEUR = "entrepreneur", _("entrepreneur")
        POLITICS = "politics", _("administrator or politician")
        OTHER = "other", _("other")

    Status = Status

    event = models.ForeignKey(
        "events.Event",
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        related_name="registrations",
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail address"), max_length=254)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    function = models.CharField(_("function"), max_length=200, blank=True)
    role = models.CharField(_("I take part as"), max_length=20, choices=Role.choices)
    question = models.TextField(_("question or example for the session leader"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CONFIRMED
    )
    language = models.CharField(_("language"), max_length=10, default="nl")
    token = models.CharField(_("personal link code"), max_length=64, unique=True, default=new_token)
    consented_at = models.DateTimeField(_("privacy statement accepted at"))
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("present (event)"), null=True, blank=True)

    objects = SeatQuerySet.as_manager()

    class Meta:
        ordering = ["event", "created_at", "pk"]
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        # The seats taken are counted on every page view (seat_store.seats_taken): this
        # index lets PostgreSQL count an event's confirmed places without reading the table.
        indexes = [
            models.Index(
                fields=["event", "role"],
                condition=Q(status=Status.CONFIRMED),
                name="registration_confirmed_seats",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "email"],
                name="registration_one_per_email_per_event",
                violation_error_message=_("This e-mail address is already registered."),
            ),
            models.CheckConstraint(
                condition=Q(email=models.functions.Lower("email")),
                name="registration_email_lower_case",
            ),
        ]

    def __str__(self):
        return f"{self.name} – {self.event.title}"

    def get_absolute_url(self):
        return reverse("registrations:manage", kwargs={"token": self.token})

    def validate_constraints(self, exclude=None):
        # Both constraints concern the address. With it excluded (the registration form
        # checks it itself) there is nothing to validate, but Django would still build
        # and compile a query for the lower-case check before finding the field missing:
        # a tenth of the registration POST's time.
        if exclude and "email" in exclude:
            return
        super().validate_constraints(exclude=exclude)

    @property
    def is_active(self):
        return self.status != Status.CANCELLED

    def queue(self):
        """Who waits in the same line: everyone waiting for this event."""
        return {"event_id": self.event_id}


class SessionChoice(models.Model):
    """The session a registered person picked in one round, with its own seat status."""

    Status = Status

    registration = models.ForeignKey(
        "registrations.Registration",
        verbose_name=_("registration"),
        on_delete=models.CASCADE,
        related_name="choices",
    )
    offering = models.ForeignKey(
        "events.SessionOffering",
        verbose_name=_("session"),
        on_delete=models.PROTECT,
        related_name="choices",
    )
    # Copied from the offering so the database can enforce one session per round
    # and never the same session twice.
    round = models.ForeignKey(
        "events.Round", verbose_name=_("round"), on_delete=models.PROTECT, related_name="+"
    )
    session = models.ForeignKey(
        "events.Session", verbose_name=_("session"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.CONFIRMED
    )
    created_at = models.DateTimeField(_("chosen at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)
    checked_in_at = models.DateTimeField(_("present (session)"), null=True, blank=True)

    objects = SeatQuerySet.as_manager()

    class Meta:
        ordering = ["round__starts_at", "pk"]
        verbose_name = _("session choice")
        verbose_name_plural = _("session choices")
        # As Registration's: the confirmed places of an offering, counted from the index.
        indexes = [
            models.Index(
                fields=["offering", "registration"],
                condition=Q(status=Status.CONFIRMED),
                name="choice_confirmed_seats",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "round"],
                condition=~Q(status="cancelled"),
                name="choice_one_session_per_round",
                violation_error_message=_("Choose at most one session per round."),
            ),
            models.UniqueConstraint(
                fields=["registration", "session"],
                condition=~Q(status="cancelled"),
                name="choice_session_not_twice",
                violation_error_message=_("You cannot choose the same session twice."),
            ),
        ]

    def __str__(self):
        return f"{self.registration.name} – {self.offering}"

    def queue(self):
        """Who waits in the same line: everyone waiting for this offering."""
        return {"offering_id": self.offering_id}


class HistoryEntry(models.Model):
    """One change to a registration or one of its session choices: what, when, by whom and
    from where. Written by the seat module with the change itself; holds no personal data
    (the person is the registration), so it stays through anonymisation."""

    class Source(models.TextChoices):
        PARTICIPANT = "participant", _("participant")
        ORGANISER = "organiser", _("organiser")
        PROMOTION = "promotion", _("waiting list promotion")
        ALLOCATION = "allocation", _("allocation")
        PROGRAMME = "programme", _("programme change")

    class Action(models.TextChoices):
        REGISTERED = "registered", _("registered")
        CHOSEN = "chosen", _("session chosen")
        RELEASED = "released", _("session given up")
        CANCELLED = "cancelled", _("registration cancelled")
        CONFIRMED = "confirmed", _("given a place")
        WAITING = "waiting", _("put on the waiting list")
        MOVED = "moved", _("moved")
        NOTIFIED = "notified", _("told about a programme change")

    registration = models.ForeignKey(
        Registration,
        verbose_name=_("registration"),
        on_delete=models.CASCADE,
        related_name="history",
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True)
    source = models.CharField(_("from"), max_length=20, choices=Source.choices)
    action = models.CharField(_("what"), max_length=20, choices=Action.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, blank=True)
    offering = models.ForeignKey(
        "events.SessionOffering",
        verbose_name=_("session"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    detail = models.CharField(_("details"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("history entry")
        verbose_name_plural = _("history")

    def __str__(self):
        parts = [self.get_action_display()]
        if self.offering_id:
            parts.append(str(self.offering))
        if self.status:
            parts.append(self.get_status_display())
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)


class Mailing(models.Model):
    """An e-mail from the organisers to the confirmed participants of an event or a session."""

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="mailings"
    )
    offering = models.ForeignKey(
        "events.SessionOffering",
        verbose_name=_("only the participants of this session"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mailings",
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(
        _("message"),
        help_text=_("Plain text. Each participant's message starts with 'Beste <name>,'."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    recipient_count = models.PositiveIntegerField(_("recipients"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")

    def __str__(self):
        return self.subject


class Preference(models.Model):
    """In preference mode: a person's first, second or third choice in one round."""

    registration = models.ForeignKey(
        "registrations.Registration",
        verbose_name=_("registration"),
        on_delete=models.CASCADE,
        related_name="preferences",
    )
    round = models.ForeignKey(
        "events.Round", verbose_name=_("round"), on_delete=models.CASCADE, related_name="+"
    )
    offering = models.ForeignKey(
        "events.SessionOffering",
        verbose_name=_("session"),
        on_delete=models.CASCADE,
        related_name="preferences",
    )
    rank = models.PositiveSmallIntegerField(_("rank"))

    class Meta:
        ordering = ["registration", "round__starts_at", "rank"]
        verbose_name = _("preference")
        verbose_name_plural = _("preferences")
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "round", "rank"], name="preference_one_per_rank"
            ),
            models.UniqueConstraint(
                fields=["registration", "offering"], name="preference_offering_once"
            ),
            models.CheckConstraint(
                condition=Q(rank__gte=1, rank__lte=3), name="preference_rank_1_to_3"
            ),
        ]

    def __str__(self):
        return f"{self.registration.name}: {self.rank}. {self.offering}"


ROLE_GROUPS = {
    Registration.Role.RESIDENT: _("residents"),
    Registration.Role.CIVIL_SERVANT: _("civil servants"),
    Registration.Role.PROFESSIONAL: _("professionals"),
    Registration.Role.ENTREPRENEUR: _("entrepreneurs"),
    Registration.Role.POLITICS: _("administrators and politicians"),
    Registration.Role.OTHER: _("other participants"),
}
"""The participants of each role as a group, for the seats reserved for them."""


class SeatReservation(models.Model):
    """A share of seats kept for one group of participants until a release date."""

    event = models.ForeignKey(
        "events.Event",
        verbose_name=_("event"),
        on_delete=models.CASCADE,
        related_name="seat_reservations",
    )
    offering = models.ForeignKey(
        "events.SessionOffering",
        verbose_name=_("session"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="seat_reservations",
        help_text=_("Leave empty to reserve seats of the event itself."),
    )
    role = models.CharField(_("for"), max_length=20, choices=Registration.Role.choices)
    share = models.PositiveSmallIntegerField(
        _("share of the seats (%)"), help_text=_("For example 40 for 40 percent of the seats.")
    )
    released_at = models.DateTimeField(
        _("released to everyone at"),
        help_text=_("Until then the reserved seats go only to this group."),
    )

    class Meta:
        ordering = ["event", "offering", "role"]
        verbose_name = _("seat reservation")
        verbose_name_plural = _("seat reservations")
        constraints = [
            models.CheckConstraint(
                condition=Q(share__gte=1, share__lte=100),
                name="reservation_share_1_to_100",
                violation_error_message=_("The share must be between 1 and 100 percent."),
            ),
            models.UniqueConstraint(
                fields=["offering", "role"],
                condition=Q(offering__isnull=False),
                name="reservation_one_per_group_per_session",
                violation_error_message=_("This group already has a reservation here."),
            ),
            models.UniqueConstraint(
                fields=["event", "role"],
                condition=Q(offering__isnull=True),
                name="reservation_one_per_group_per_event",
                violation_error_message=_("This group already has a reservation here."),
            ),
        ]

    def __str__(self):
        return f"{self.share}% {self.get_role_display()}"

    def reserved_seats(self, capacity):
        """Seats kept for the group out of `capacity`, rounded up."""
        if capacity is None:
            return 0
        return -(-capacity * self.share // 100)

    def is_active(self, now):
        return now < self.released_at

    @property
    def group(self):
        """'residents': whom the seats are kept for."""
        return ROLE_GROUPS.get(self.role, self.role)


class AllocationRun(models.Model):
    """One lottery of a preference-mode event: a preview until an organiser confirms it."""

    event = models.ForeignKey(
        "events.Event",
        verbose_name=_("event"),
        on_delete=models.CASCADE,
        related_name="allocation_runs",
    )
    seed = models.BigIntegerField(_("lottery seed"))
    result = models.JSONField(_("result"), default=dict)
    summary = models.JSONField(_("summary"), default=dict)
    created_at = models.DateTimeField(_("run at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("confirmed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        constraints = [
            models.UniqueConstraint(
                fields=["event"],
                condition=Q(confirmed_at__isnull=False),
                name="allocation_confirmed_once_per_event",
            ),
        ]

    def __str__(self):
        return f"{self.event.title} – {self.seed}"


class QueuedEmail(models.Model):
    """An e-mail to a participant, written in the same transaction as the change it reports.

    The outbox makes delivery independent of the request: a registration that commits
    always has its e-mail, and a mail server that is down delays the e-mail instead of
    losing it. ``registrations.emails`` sends it right after the commit
    (``EMAIL_DELIVERY = "immediate"``) or leaves it to ``manage.py send_queued_email``
    (``"queue"``); either way the message is rendered from the registration's state at
    sending time, and the row is marked sent when it goes to the mail server.
    """

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("confirmation")
        CHANGED = "changed", _("change")
        ALLOCATION = "allocation", _("allocation result")
        LINK = "link", _("personal link")
        PROMOTION = "promotion", _("place from the waiting list")
        CANCELLATION = "cancellation", _("cancellation")
        MAILING = "mailing", _("mailing")
        PROGRAMME_CHANGE = "programme_change", _("programme change")

    registration = models.ForeignKey(
        Registration,
        verbose_name=_("registration"),
        on_delete=models.CASCADE,
        related_name="queued_emails",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    mailing = models.ForeignKey(
        Mailing,
        verbose_name=_("mailing"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="queued_emails",
        help_text=_("For the kind 'mailing': the organisers' message this is a copy of."),
    )
    details = models.JSONField(
        _("details"),
        default=dict,
        blank=True,
        help_text=_("For the kind 'programme change': what changed for this person, and a note."),
    )
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    retry_after = models.DateTimeField(_("next attempt after"), null=True, blank=True)
    # The exception's class name only: never the message, which may quote an address.
    last_error = models.CharField(_("last error"), max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("queued e-mail")
        verbose_name_plural = _("queued e-mails")
        indexes = [
            models.Index(
                fields=["created_at"], name="queued_email_pending", condition=Q(sent_at=None)
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="mailing", mailing__isnull=False)
                | (~Q(kind="mailing") & Q(mailing__isnull=True)),
                name="queued_email_mailing_with_its_kind",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.registration_id}"


class ExportColumns(models.Model):
    """The columns a moderator last chose for the attendee exports (CSV and Excel): every
    later export, from any list, has them again."""

    class Column(models.TextChoices):
        NAME = "name", _("Name")
        ORGANISATION = "organisation", _("Organisation")
        FUNCTION = "function", _("Function")
        ROLE = "role", _("Takes part as")
        QUESTION = "question", _("Question for the session leader")
        PRESENT = "present", _("Present")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="export_columns",
    )
    columns = models.JSONField(_("columns"), default=list)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("export columns")
        verbose_name_plural = _("export columns")

    def __str__(self):
        return f"{self.user}: {', '.join(self.columns)}"

    @classmethod
    def for_user(cls, user):
        """The user's columns in export order; every column until they chose."""
        stored = cls.objects.filter(user=user).values_list("columns", flat=True).first()
        if stored is None:
            return list(cls.Column.values)
        return [value for value in cls.Column.values if value in stored]

    @classmethod
    def remember(cls, user, columns):
        cls.objects.update_or_create(user=user, defaults={"columns": list(columns)})
