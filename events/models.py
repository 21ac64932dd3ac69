import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, F, Prefetch, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from speakers.models import Organisation


class Venue(models.Model):
    name = models.CharField(_("name"), max_length=200)
    street_address = models.CharField(_("address"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True)
    city = models.CharField(_("city"), max_length=100)
    url = models.URLField(_("website"), blank=True)

    class Meta:
        ordering = ["city", "name"]
        verbose_name = _("venue")
        verbose_name_plural = _("venues")
        constraints = [
            models.UniqueConstraint(fields=["name", "city"], name="venue_unique_name_city"),
        ]

    def __str__(self):
        if self.city and self.city not in self.name:
            return f"{self.name}, {self.city}"
        return self.name


class ContactFields(models.Model):
    """The contact person shown on a series or an event page."""

    contact_name = models.CharField(_("contact person"), max_length=200, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)

    class Meta:
        abstract = True

    @property
    def has_contact(self):
        return bool(self.contact_name or self.contact_phone or self.contact_email)


class SeatsMixin:
    """Seats of something with a `capacity` (None: no limit) and confirmed holders.

    `seat_holders` names the reverse relation of the registrations app (events
    does not import it). The querysets' `with_seat_counts()` annotates
    `confirmed_count`, which is read instead of a query when present.
    """

    seat_holders = ""

    @property
    def seats_taken(self):
        if hasattr(self, "confirmed_count"):
            return self.confirmed_count
        return getattr(self, self.seat_holders).filter(status="confirmed").count()

    @property
    def seats_left(self):
        if self.capacity is None:
            return None
        return max(self.capacity - self.seats_taken, 0)

    @property
    def is_full(self):
        return self.capacity is not None and self.seats_left == 0


class SeriesQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)


class Series(ContactFields):
    """A year programme, an annual congress or a travelling series of events."""

    class Kind(models.TextChoices):
        YEAR_PROGRAMME = "year_programme", _("year programme")
        CONGRESS = "congress", _("annual congress")
        RELAY = "relay", _("relay series")
        OTHER = "other", _("series")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.OTHER)
    theme = models.CharField(_("theme"), max_length=200, blank=True)
    summary = models.CharField(
        _("summary"), max_length=300, blank=True, help_text=_("One sentence for lists.")
    )
    introduction = models.TextField(_("introduction"), blank=True)
    audience = models.TextField(_("audience"), blank=True)
    organisers = models.ManyToManyField(
        "speakers.Organisation",
        verbose_name=_("organisers"),
        blank=True,
        related_name="organised_series",
    )
    price_note = models.CharField(_("price note"), max_length=200, blank=True)
    is_published = models.BooleanField(_("published"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = SeriesQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        verbose_name = _("series")
        verbose_name_plural = _("series")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("events:series", kwargs={"slug": self.slug})


class EventQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)

    def upcoming(self, today=None):
        today = today or timezone.localdate()
        return self.filter(Q(end_date__gte=today) | Q(end_date__isnull=True, start_date__gte=today))

    def past(self, today=None):
        today = today or timezone.localdate()
        return self.filter(Q(end_date__lt=today) | Q(end_date__isnull=True, start_date__lt=today))

    def with_seat_counts(self):
        # Registrations live in the registrations app; reached by their related name.
        return self.annotate(
            confirmed_count=Count("registrations", filter=Q(registrations__status="confirmed"))
        )

    def for_listing(self):
        """What an event card renders (home, series page), in constant queries."""
        return (
            self.with_seat_counts()
            .select_related("venue", "series")
            .order_by("start_date", "start_time", "title")
        )

    def for_programme(self):
        """Everything templates/events/event_detail.html renders, in constant queries."""
        return (
            self.with_seat_counts()
            .select_related("venue", "series")
            .prefetch_related(
                Prefetch("organisers", queryset=Organisation.objects.order_by("name")),
                Prefetch(
                    "programme_blocks", queryset=ProgrammeBlock.objects.order_by(*BLOCK_ORDER)
                ),
                Prefetch(
                    "roles",
                    queryset=EventRole.objects.select_related("speaker__organisation").order_by(
                        "order", "pk"
                    ),
                ),
                Prefetch(
                    "rounds",
                    queryset=Round.objects.order_by(*BLOCK_ORDER).prefetch_related(
                        Prefetch(
                            "offerings", queryset=SessionOffering.objects.for_cards().current()
                        )
                    ),
                ),
            )
        )


BLOCK_ORDER = ("day", "starts_at", "order", "pk")


class Event(SeatsMixin, ContactFields):
    class Kind(models.TextChoices):
        KNOWLEDGE = "knowledge", _("knowledge meeting")
        REFLECTION = "reflection", _("reflection meeting")
        PRACTICE = "practice", _("practice meeting")
        FEEDBACK = "feedback", _("feedback meeting")
        CONGRESS = "congress", _("congress")
        STUDY_AFTERNOON = "study_afternoon", _("study afternoon")
        AFTERNOON = "afternoon", _("afternoon meeting")
        THEME_DAY = "theme_day", _("theme day")
        MEETING = "meeting", _("meeting")

    series = models.ForeignKey(
        "events.Series",
        verbose_name=_("series"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
    )
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.MEETING)
    theme = models.CharField(_("theme"), max_length=200, blank=True)
    summary = models.CharField(
        _("summary"), max_length=300, blank=True, help_text=_("One sentence for lists.")
    )
    introduction = models.TextField(
        _("introduction"), blank=True, help_text=_("Separate paragraphs with an empty line.")
    )
    audience = models.TextField(_("audience"), blank=True)

    start_date = models.DateField(_("date"))
    end_date = models.DateField(
        _("end date"), null=True, blank=True, help_text=_("Only for events of several days.")
    )
    start_time = models.TimeField(_("start time"), null=True, blank=True)
    end_time = models.TimeField(_("end time"), null=True, blank=True)
    time_to_be_confirmed = models.BooleanField(
        _("time to be confirmed"),
        default=False,
        help_text=_("Shows 'tijd nader te bepalen' instead of the times."),
    )
    is_provisional = models.BooleanField(
        _("date and time provisional"),
        default=False,
        help_text=_("Shows 'onder voorbehoud' next to the date."),
    )

    venue = models.ForeignKey(
        "events.Venue",
        verbose_name=_("venue"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
    )
    is_online = models.BooleanField(_("online"), default=False)
    online_note = models.CharField(
        _("online details"),
        max_length=200,
        blank=True,
        help_text=_("For example 'live vanuit de studio'. Never put a meeting link here."),
    )
    organisers = models.ManyToManyField(
        "speakers.Organisation",
        verbose_name=_("organisers"),
        blank=True,
        related_name="organised_events",
    )
    more_info_url = models.URLField(_("more information (link)"), blank=True)
    more_info_label = models.CharField(
        _("more information (link text)"), max_length=200, blank=True
    )

    class AllocationMode(models.TextChoices):
        FIRST_COME = "first_come", _("first come, first served")
        PREFERENCE = "preference", _("ranked preferences, then a fair allocation")

    registration_enabled = models.BooleanField(_("registration through this site"), default=True)
    allocation_mode = models.CharField(
        _("how seats are given"),
        max_length=20,
        choices=AllocationMode.choices,
        default=AllocationMode.FIRST_COME,
        help_text=_(
            "With preferences, participants rank three sessions per round until the "
            "preference deadline; seats are then assigned fairly, by lottery among equals."
        ),
    )
    preferences_close_at = models.DateTimeField(
        _("preference deadline"),
        null=True,
        blank=True,
        help_text=_("Only with preferences. After the allocation, remaining seats go first come."),
    )
    allocated_at = models.DateTimeField(_("seats allocated at"), null=True, blank=True)
    registration_opens_at = models.DateTimeField(_("registration opens"), null=True, blank=True)
    registration_closes_at = models.DateTimeField(_("registration closes"), null=True, blank=True)
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Leave empty for no limit.")
    )
    price_note = models.CharField(
        _("price note"),
        max_length=200,
        blank=True,
        help_text=_("For example 'Deelname is gratis'."),
    )

    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moderators"),
        blank=True,
        related_name="moderated_events",
        help_text=_("They see and print the attendee lists of the whole event."),
    )

    is_published = models.BooleanField(_("published"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Raised with each programme change participants are told about: their calendars
    # then replace the entry they have (same UID, higher SEQUENCE).
    calendar_sequence = models.PositiveIntegerField(
        _("calendar version"), default=0, editable=False
    )

    objects = EventQuerySet.as_manager()

    seat_holders = "registrations"

    class Meta:
        ordering = ["start_date", "start_time", "title"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="event_end_date_after_start_date",
                violation_error_message=_("The end date cannot be before the start date."),
            ),
            models.CheckConstraint(
                condition=Q(end_time__isnull=True)
                | Q(start_time__isnull=True)
                | Q(end_time__gt=F("start_time"))
                | Q(end_date__isnull=False, end_date__gt=F("start_date")),
                name="event_end_time_after_start_time",
                violation_error_message=_("The end time must be after the start time."),
            ),
            models.CheckConstraint(
                condition=Q(registration_opens_at__isnull=True)
                | Q(registration_closes_at__isnull=True)
                | Q(registration_closes_at__gt=F("registration_opens_at")),
                name="event_registration_closes_after_opening",
                violation_error_message=_("Registration must close after it opens."),
            ),
            models.CheckConstraint(
                condition=Q(preferences_close_at__isnull=True)
                | Q(registration_opens_at__isnull=True)
                | Q(preferences_close_at__gt=F("registration_opens_at")),
                name="event_preferences_close_after_opening",
                violation_error_message=_("The preference deadline must be after opening."),
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.start_date:%d-%m-%Y})"

    def get_absolute_url(self):
        return reverse("events:detail", kwargs={"slug": self.slug})

    def clean(self):
        if self.allocation_mode == self.AllocationMode.PREFERENCE and not self.preferences_close_at:
            raise ValidationError(
                {"preferences_close_at": _("Set the preference deadline for preference mode.")}
            )

    @property
    def is_multi_day(self):
        return bool(self.end_date and self.end_date != self.start_date)

    @property
    def last_date(self):
        return self.end_date or self.start_date

    @property
    def is_past(self):
        return self.last_date < timezone.localdate()

    @property
    def shows_times(self):
        return bool(self.start_time) and not self.time_to_be_confirmed

    @property
    def starts_at(self):
        """Aware start, or None when the time is not (yet) known."""
        if not self.shows_times:
            return None
        return timezone.make_aware(datetime.datetime.combine(self.start_date, self.start_time))

    @property
    def ends_at(self):
        if not self.shows_times or not self.end_time:
            return None
        return timezone.make_aware(datetime.datetime.combine(self.last_date, self.end_time))

    @property
    def place(self):
        """Short 'where' for cards: the city, or 'online'."""
        if self.venue_id:
            return self.venue.city
        return _("online") if self.is_online else ""

    @property
    def effective_contact(self):
        """The event's contact person, or the series' one when the event names none."""
        if self.has_contact or not self.series_id:
            return self
        return self.series if self.series.has_contact else self

    @property
    def uses_preferences(self):
        return self.allocation_mode == self.AllocationMode.PREFERENCE

    def registration_state(self, now=None, *, count_seats=True):
        """One of 'unavailable', 'not_yet_open', 'preferences', 'allocating', 'open',
        'full', 'closed'.

        'full' means open, with only the waiting list left (never returned with
        ``count_seats=False``, which spares the count). In preference mode the
        form takes rankings ('preferences') until the deadline, registration pauses
        until the organiser confirms the allocation ('allocating'), and then goes on
        first come, first served.
        """
        now = now or timezone.now()
        if not self.registration_enabled:
            return "unavailable"
        if self.registration_opens_at and now < self.registration_opens_at:
            return "not_yet_open"
        if self.uses_preferences and not self.allocated_at:
            if self.preferences_close_at is None or now < self.preferences_close_at:
                return "preferences"
            return "allocating"
        if now >= self.registration_deadline:
            return "closed"
        return "full" if count_seats and self.is_full else "open"

    @property
    def registration_deadline(self):
        """When registration closes: as set, or else when the event starts."""
        if self.registration_closes_at is not None:
            return self.registration_closes_at
        return self.starts_at or timezone.make_aware(
            datetime.datetime.combine(self.start_date, datetime.time.min)
        )

    def registration_state_changes_at(self, now=None):
        """The next moment the registration state changes by the clock alone, or None."""
        now = now or timezone.now()
        moments = [self.registration_opens_at, self.registration_deadline]
        if self.uses_preferences and not self.allocated_at:
            moments.append(self.preferences_close_at)
        return min((moment for moment in moments if moment and moment > now), default=None)

    def timeline(self):
        """Programme blocks and rounds in time order (uses prefetched relations)."""
        items = [*self.programme_blocks.all(), *self.rounds.all()]
        return sorted(
            items,
            key=lambda item: (
                item.day or self.start_date,
                item.starts_at,
                item.order,
                isinstance(item, Round),
            ),
        )

    def roles_by_kind(self):
        grouped = {}
        for role in self.roles.all():
            grouped.setdefault(role.role, []).append(role)
        return grouped


class TimedItem(models.Model):
    day = models.DateField(
        _("day"), null=True, blank=True, help_text=_("Only for events of several days.")
    )
    starts_at = models.TimeField(_("starts at"))
    ends_at = models.TimeField(_("ends at"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        abstract = True


class ProgrammeBlock(TimedItem):
    """A timed part of the programme without parallel sessions."""

    class Kind(models.TextChoices):
        RECEPTION = "reception", _("reception")
        PLENARY = "plenary", _("plenary")
        BREAK = "break", _("break")
        CLOSING = "closing", _("closing")
        DRINKS = "drinks", _("drinks")
        OTHER = "other", _("other")

    event = models.ForeignKey(
        "events.Event",
        verbose_name=_("event"),
        on_delete=models.CASCADE,
        related_name="programme_blocks",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PLENARY)

    is_round = False

    class Meta:
        ordering = BLOCK_ORDER
        verbose_name = _("programme block")
        verbose_name_plural = _("programme blocks")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="programmeblock_ends_after_start",
                violation_error_message=_("The end time must be after the start time."),
            ),
        ]

    def __str__(self):
        return f"{self.starts_at:%H:%M} {self.title}"


class Round(TimedItem):
    """A block of the programme in which sessions run side by side."""

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="rounds"
    )

    is_round = True

    class Meta:
        ordering = BLOCK_ORDER
        verbose_name = _("round")
        verbose_name_plural = _("rounds")
        constraints = [
            models.UniqueConstraint(fields=["event", "title"], name="round_unique_title_per_event"),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="round_ends_after_start",
                violation_error_message=_("The end time must be after the start time."),
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.starts_at:%H:%M})"


class Session(models.Model):
    """A table session or workshop; its text and speakers are edited once.

    Each round in which it runs is a ``SessionOffering`` with its own seats.
    """

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="sessions"
    )
    title = models.CharField(_("title"), max_length=250)
    slug = models.SlugField(_("slug"), max_length=200)
    theme = models.CharField(_("theme"), max_length=200, blank=True)
    summary = models.TextField(
        _("short text"), blank=True, help_text=_("Shown on the session card.")
    )
    description = models.TextField(
        _("full text"), blank=True, help_text=_("Separate paragraphs with an empty line.")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["event", "order", "title"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        constraints = [
            models.UniqueConstraint(fields=["event", "slug"], name="session_unique_slug_per_event"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("events:session", kwargs={"event_slug": self.event.slug, "slug": self.slug})

    @property
    def more_text(self):
        """The full text without the summary when it opens with it (shown once only)."""
        if self.summary and self.description.startswith(self.summary):
            return self.description[len(self.summary) :].strip()
        return self.description

    @property
    def leaders(self):
        return [role for role in self.roles.all() if role.role == SessionRole.Role.LEADER]

    @property
    def other_roles(self):
        return [role for role in self.roles.all() if role.role != SessionRole.Role.LEADER]


class SessionOfferingQuerySet(models.QuerySet):
    def current(self):
        """Not cancelled: what the programme shows and people can book."""
        return self.filter(cancelled_at__isnull=True)

    def with_seat_counts(self):
        return self.annotate(
            confirmed_count=Count("choices", filter=Q(choices__status="confirmed"))
        )

    def for_choices(self):
        """What a registration form shows per offering: title and leaders (add
        with_seat_counts() for the seats left).

        Lighter than for_cards (no event, organisations or biographies): the form is
        the busiest page when registration opens.
        """
        return (
            self.select_related("session")
            .prefetch_related(
                Prefetch(
                    "session__roles",
                    queryset=SessionRole.objects.select_related("speaker").order_by("order", "pk"),
                )
            )
            .order_by("order", "session__order", "pk")
        )

    def for_cards(self):
        """Offerings with their session, its leaders and the seats taken."""
        return (
            self.with_seat_counts()
            .select_related("session__event")
            .prefetch_related(
                Prefetch(
                    "session__roles",
                    queryset=SessionRole.objects.select_related("speaker__organisation").order_by(
                        "order", "pk"
                    ),
                )
            )
            .order_by("order", "session__order", "pk")
        )


class SessionOffering(SeatsMixin, models.Model):
    """A session as offered in one round, with its own seats and attendee list."""

    seat_holders = "choices"

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="offerings"
    )
    session = models.ForeignKey(
        "events.Session",
        verbose_name=_("session"),
        on_delete=models.CASCADE,
        related_name="offerings",
    )
    round = models.ForeignKey(
        "events.Round", verbose_name=_("round"), on_delete=models.CASCADE, related_name="offerings"
    )
    capacity = models.PositiveIntegerField(
        _("seats"), null=True, blank=True, help_text=_("Leave empty for no limit.")
    )
    location = models.CharField(
        _("table or room"), max_length=100, blank=True, help_text=_("For example 'tafel 3'.")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    cancelled_at = models.DateTimeField(
        _("cancelled at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Cancelled offerings are no longer shown or bookable; their history stays."),
    )
    moderators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("session leaders and moderators"),
        blank=True,
        related_name="moderated_offerings",
        help_text=_("They see and print the attendee list of this session in this round."),
    )

    objects = SessionOfferingQuerySet.as_manager()

    class Meta:
        ordering = ["round__starts_at", "order", "pk"]
        verbose_name = _("session offering")
        verbose_name_plural = _("session offerings")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "round"],
                name="offering_once_per_round",
                violation_error_message=_("This session is already offered in this round."),
            ),
        ]

    def __str__(self):
        return f"{self.session.title} – {self.round.title}"

    def save(self, *args, **kwargs):
        """Save; when the round or session changed, the people who booked it go with it.

        A session choice keeps a copy of its offering's round and session (the database
        enforces one session per round with them). A copy left behind made the choice
        invisible on the participant's page, which then offered "no session" and dropped
        it on the next save. A move that would give someone two sessions in one round
        is refused here: the organiser decides those cases first (programme changes).
        """
        previous = None
        if self.pk is not None and not self._state.adding:
            previous = (
                type(self).objects.filter(pk=self.pk).values_list("round_id", "session_id").first()
            )
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if previous and previous != (self.round_id, self.session_id):
                self.carry_bookings()

    def booking_conflicts(self):
        """Active choices of this offering whose person holds another active choice in
        this offering's round or of its session: they cannot both stand."""
        choices = getattr(self, self.seat_holders)
        others = (
            choices.model.objects.exclude(status="cancelled")
            .exclude(offering_id=self.pk)
            .filter(Q(round_id=self.round_id) | Q(session_id=self.session_id))
        )
        return choices.exclude(status="cancelled").filter(
            registration_id__in=others.values("registration_id")
        )

    def carry_bookings(self):
        """Bring the choices' (and rankings') copies of round and session in line."""
        if self.booking_conflicts().exists():
            raise ValidationError(
                _(
                    "Some people who booked this session already have another session in "
                    "that round. Decide for them first on the page that shows the consequences."
                ),
                code="booking_conflict",
            )
        getattr(self, self.seat_holders).update(round_id=self.round_id, session_id=self.session_id)
        rankings = self.preferences.all()
        ranked = set(rankings.values_list("registration_id", "rank"))
        taken = rankings.model.objects.filter(
            round_id=self.round_id, registration_id__in={pk for pk, _rank in ranked}
        ).exclude(offering_id=self.pk)
        if ranked & set(taken.values_list("registration_id", "rank")):
            raise ValidationError(
                _("Some people ranked a session in that round already; the move would lose it."),
                code="ranking_conflict",
            )
        rankings.update(round_id=self.round_id)

    def clean(self):
        errors = {}
        if self.session_id and self.event_id and self.session.event_id != self.event_id:
            errors["session"] = _("The session belongs to another event.")
        if self.round_id and self.event_id and self.round.event_id != self.event_id:
            errors["round"] = _("The round belongs to another event.")
        if errors:
            raise ValidationError(errors)


class Appearance(models.Model):
    """What event and session roles share: how a speaker is shown there."""

    affiliation = models.CharField(
        _("affiliation for this appearance"),
        max_length=200,
        blank=True,
        help_text=_("Organisation or function shown here, when it differs from the speaker's."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.speaker.name}: {self.get_role_display()}"

    @property
    def shown_affiliation(self):
        """What follows the name: this appearance's affiliation, else the speaker's."""
        if self.affiliation:
            return self.affiliation
        speaker = self.speaker
        parts = [speaker.function, speaker.organisation.name if speaker.organisation_id else ""]
        return ", ".join(part for part in parts if part)


class EventRole(Appearance):
    class Role(models.TextChoices):
        CHAIR = "chair", _("chair")
        MODERATOR = "moderator", _("moderator")
        PRESENTER = "presenter", _("presenter")
        OPENING = "opening", _("opening speaker")
        SPEAKER = "speaker", _("speaker")
        TABLE_GUEST = "table_guest", _("table guest")

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="roles"
    )
    speaker = models.ForeignKey(
        "speakers.Speaker",
        verbose_name=_("speaker"),
        on_delete=models.CASCADE,
        related_name="event_roles",
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SPEAKER)
    note = models.CharField(
        _("note"), max_length=200, blank=True, help_text=_("For example 'plenair interview'.")
    )

    class Meta:
        ordering = ["event", "order", "pk"]
        verbose_name = _("role at the event")
        verbose_name_plural = _("roles at the event")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "speaker", "role"], name="eventrole_unique_speaker_role"
            ),
        ]


class SessionRole(Appearance):
    class Role(models.TextChoices):
        LEADER = "leader", _("session leader")
        SPEAKER = "speaker", _("speaker")
        TABLE_GUEST = "table_guest", _("table guest")

    session = models.ForeignKey(
        "events.Session", verbose_name=_("session"), on_delete=models.CASCADE, related_name="roles"
    )
    speaker = models.ForeignKey(
        "speakers.Speaker",
        verbose_name=_("speaker"),
        on_delete=models.CASCADE,
        related_name="session_roles",
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.LEADER)

    class Meta:
        ordering = ["session", "order", "pk"]
        verbose_name = _("role in the session")
        verbose_name_plural = _("roles in the session")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "speaker", "role"], name="sessionrole_unique_speaker_role"
            ),
        ]
