import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
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

    @property
    def is_active(self):
        return self.status != Status.CANCELLED


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
