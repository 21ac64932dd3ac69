import datetime
import itertools

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import F, Prefetch, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def in_language(dutch, english):
    """The English text on English pages when there is one, else the Dutch."""
    if english and (get_language() or "").startswith("en"):
        return english
    return dutch


class Label(models.Model):
    """An editable list entry with a Dutch and an English name, found by its code."""

    code = models.SlugField(
        _("code"),
        max_length=20,
        unique=True,
        help_text=_("Short fixed name used in links and files; do not change once used."),
    )
    name = models.CharField(_("name (Dutch)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        abstract = True
        ordering = ["order", "name"]

    def __str__(self):
        return str(self.shown)

    @property
    def shown(self):
        return in_language(self.name, self.name_en)


class EventKind(Label):
    """Kennisatelier, inspiratiebijeenkomst, congres ...: the kind of an event."""

    class Meta(Label.Meta):
        verbose_name = _("kind of event")
        verbose_name_plural = _("kinds of event")


class RoleLabel(Label):
    """A role of a person in a programme (dagvoorzitter, keynote, tafelgast ...).

    An event that starts in the evening shows the evening name when there is one
    (avondvoorzitter for dagvoorzitter).
    """

    evening_name = models.CharField(
        _("name at an evening event (Dutch)"),
        max_length=100,
        blank=True,
        help_text=_("For example 'avondvoorzitter'. Used when the event starts at 17:00 or later."),
    )
    evening_name_en = models.CharField(
        _("name at an evening event (English)"), max_length=100, blank=True
    )
    in_event_facts = models.BooleanField(
        _("named at the top of the event page"),
        default=False,
        help_text=_("Next to the date and the venue, as for the chair or the presenter."),
    )

    class Meta(Label.Meta):
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def shown_for(self, event):
        """The name for a role at `event`: the evening name at an evening event."""
        if event is not None and event.is_evening and self.evening_name:
            return in_language(self.evening_name, self.evening_name_en or self.name_en)
        return self.shown


class SessionKindQuerySet(models.QuerySet):
    def for_event(self, event):
        """The kinds a session of `event` may have: the site-wide ones, the event's own
        and its series' own."""
        available = Q(event__isnull=True, series__isnull=True)
        if event is not None and event.pk:
            available |= Q(event=event)
            if event.series_id:
                available |= Q(series_id=event.series_id)
        return self.filter(available)


class SessionKind(Label):
    """Workshop, tafelsessie, excursie ...: shown with each session and used to filter.

    Site-wide, or an event's or a series' own: those are offered only there."""

    event = models.ForeignKey(
        "events.Event",
        verbose_name=_("only for the event"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="own_session_kinds",
        help_text=_("Leave empty (and the series too) to offer the kind at every event."),
    )
    series = models.ForeignKey(
        "events.Series",
        verbose_name=_("only for the series"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="own_session_kinds",
    )

    objects = SessionKindQuerySet.as_manager()

    class Meta(Label.Meta):
        verbose_name = _("kind of session")
        verbose_name_plural = _("kinds of session")
        constraints = [
            models.CheckConstraint(
                condition=Q(event__isnull=True) | Q(series__isnull=True),
                name="sessionkind_event_or_series",
                violation_error_message=_("Choose an event or a series, not both."),
            ),
        ]

    def is_available_for(self, event):
        """Whether a session of `event` may have this kind."""
        if self.event_id:
            return self.event_id == event.pk
        if self.series_id:
            return self.series_id == event.series_id
        return True


class SeriesKind(Label):
    """Jaarprogramma, jaarcongres, estafette ...: the kind of a series."""

    class Meta(Label.Meta):
        verbose_name = _("kind of series")
        verbose_name_plural = _("kinds of series")


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


def organisers_line_field():
    return models.CharField(
        _("line about the organisers"),
        max_length=300,
        blank=True,
        help_text=_("For example 'in samenwerking met de bewoners van Overvecht'."),
    )


class Organising(models.Model):
    """An organisation's part in an event or series, in the order the organiser gives."""

    class Role(models.TextChoices):
        ORGANISER = "organiser", _("Organised by")
        PARTNER = "partner", _("In partnership with")
        SUPPORTER = "supporter", _("Supported by")

    organisation = models.ForeignKey(
        "speakers.Organisation", verbose_name=_("organisation"), on_delete=models.CASCADE
    )
    role = models.CharField(
        _("their part"), max_length=20, choices=Role.choices, default=Role.ORGANISER
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        abstract = True
        # Equal orders (as loaded from fixtures) fall back to the alphabet, as before.
        ordering = ["order", "organisation__name"]

    def __str__(self):
        return f"{self.get_role_display()}: {self.organisation}"


def organiser_groups(links):
    """[(heading, [organisation, ...]), ...] per part, in the order of the parts and given."""
    groups = {}
    for link in sorted(links, key=lambda link: list(Organising.Role).index(link.role)):
        groups.setdefault(link.get_role_display(), []).append(link.organisation)
    return list(groups.items())


def organiser_links_prefetch(model):
    return Prefetch(
        "organiser_links",
        queryset=model.objects.select_related("organisation").order_by(
            "order", "organisation__name"
        ),
    )


class SeriesQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)


class Series(ContactFields):
    """A year programme, an annual congress or a travelling series of events."""

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    # Keyed by code, in the column of the former fixed choices: fixtures name the code.
    kind = models.ForeignKey(
        "events.SeriesKind",
        verbose_name=_("kind"),
        on_delete=models.PROTECT,
        to_field="code",
        db_column="kind",
        default="other",
        related_name="series",
    )
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
        through="events.SeriesOrganiser",
    )
    organisers_line = organisers_line_field()
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

    def organiser_groups(self):
        return organiser_groups(self.organiser_links.all())

    def events_by_meeting_kind(self):
        """[(kind or None, [event, ...]), ...] from the prefetched events: the kinds in
        their order, then the events of no kind. Kinds without events are left out."""
        groups = {}
        for event in self.events.all():
            groups.setdefault(event.meeting_kind, []).append(event)
        return sorted(
            groups.items(),
            key=lambda item: (item[0] is None, (item[0].order, item[0].pk) if item[0] else ()),
        )


class MeetingKind(models.Model):
    """A kind of meeting in a series, with its own audience and frequency."""

    series = models.ForeignKey(
        "events.Series",
        verbose_name=_("series"),
        on_delete=models.CASCADE,
        related_name="meeting_kinds",
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("For example 'Praktijkdag'."))
    audience = models.CharField(
        _("for whom"),
        max_length=200,
        blank=True,
        help_text=_("For example 'voor wijkcoalities'."),
    )
    frequency = models.CharField(
        _("how often"), max_length=100, blank=True, help_text=_("For example 'vier keer per jaar'.")
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["series", "order", "pk"]
        verbose_name = _("kind of meeting")
        verbose_name_plural = _("kinds of meeting")
        constraints = [
            models.UniqueConstraint(fields=["series", "name"], name="meetingkind_unique_name"),
        ]

    def __str__(self):
        return f"{self.name} ({self.series})" if self.series_id else self.name


class EventQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)

    def upcoming(self, today=None):
        today = today or timezone.localdate()
        return self.filter(Q(end_date__gte=today) | Q(end_date__isnull=True, start_date__gte=today))

    def past(self, today=None):
        today = today or timezone.localdate()
        return self.filter(Q(end_date__lt=today) | Q(end_date__isnull=True, start_date__lt=today))

    def for_listing(self):
        """What an event card renders (home, series page), in constant queries."""
        return self.select_related("venue", "series", "kind", "meeting_kind").order_by(
            "start_date", "start_time", "title"
        )

    def for_header(self):
        """What an event page shows around its programme (event_detail.html)."""
        return self.select_related("venue", "series", "kind").prefetch_related(
            organiser_links_prefetch(EventOrganiser),
            Prefetch(
                "roles",
                queryset=EventRole.objects.select_related("speaker", "role").order_by(
                    "order", "pk"
                ),
            ),
        )

    def for_programme(self):
        """Everything templates/events/event_detail.html renders with its programme
        (includes/programme.html), in constant queries."""
        return self.select_related("venue", "series", "kind").prefetch_related(
            organiser_links_prefetch(EventOrganiser),
            Prefetch("programme_blocks", queryset=ProgrammeBlock.objects.order_by(*BLOCK_ORDER)),
            Prefetch(
                "roles",
                queryset=EventRole.objects.select_related("speaker__organisation", "role").order_by(
                    "order", "pk"
                ),
            ),
            Prefetch(
                "rounds",
                queryset=Round.objects.order_by(*BLOCK_ORDER).prefetch_related(
                    Prefetch("offerings", queryset=SessionOffering.objects.for_cards().current())
                ),
            ),
        )


BLOCK_ORDER = ("day", "starts_at", "order", "pk")
EVENING_STARTS = datetime.time(17, 0)


class Event(ContactFields):
    series = models.ForeignKey(
        "events.Series",
        verbose_name=_("series"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
    )
    meeting_kind = models.ForeignKey(
        "events.MeetingKind",
        verbose_name=_("kind of meeting in the series"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
    )
    part_number = models.PositiveSmallIntegerField(
        _("part"), null=True, blank=True, help_text=_("For 'deel 2 van 2': 2.")
    )
    part_count = models.PositiveSmallIntegerField(
        _("of parts"), null=True, blank=True, help_text=_("For 'deel 2 van 2': the second 2.")
    )
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    # Keyed by code, in the column of the former fixed choices: fixtures name the code.
    kind = models.ForeignKey(
        "events.EventKind",
        verbose_name=_("kind"),
        on_delete=models.PROTECT,
        to_field="code",
        db_column="kind",
        default="meeting",
        related_name="events",
    )
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
    doors_open = models.TimeField(
        _("doors open"),
        null=True,
        blank=True,
        help_text=_("'Inloop vanaf': when people can come in, before the start."),
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
    venue_to_be_announced = models.BooleanField(
        _("venue to be announced"),
        default=False,
        help_text=_("Shows 'locatie volgt nog' while there is no venue."),
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
        through="events.EventOrganiser",
    )
    organisers_line = organisers_line_field()
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
    # Set by cancelling the whole event (registrations.services.programme_changes):
    # everyone registered was released and told; registration is closed.
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True, editable=False)

    objects = EventQuerySet.as_manager()

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
                condition=Q(part_count__isnull=True)
                | Q(
                    part_number__isnull=False, part_number__gte=1, part_number__lte=F("part_count")
                ),
                name="event_part_within_parts",
                violation_error_message=_("The part must be between 1 and the number of parts."),
            ),
            models.CheckConstraint(
                condition=Q(doors_open__isnull=True)
                | Q(start_time__isnull=True)
                | Q(doors_open__lte=F("start_time")),
                name="event_doors_open_before_start",
                violation_error_message=_("The doors cannot open after the start."),
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

    def organiser_groups(self):
        return organiser_groups(self.organiser_links.all())

    def clean(self):
        if self.meeting_kind_id and self.meeting_kind.series_id != self.series_id:
            raise ValidationError(
                {"meeting_kind": _("Choose a kind of meeting of this event's series.")}
            )
        if self.allocation_mode == self.AllocationMode.PREFERENCE and not self.preferences_close_at:
            raise ValidationError(
                {"preferences_close_at": _("Set the preference deadline for preference mode.")}
            )

    def clashes(self):
        """Whether a person could hold sessions at overlapping times here without holding
        two in one round: sessions across rounds, or rounds that overlap in time."""
        if self.offerings.filter(last_round__isnull=False).exists():
            return True
        intervals = sorted(round_.interval(self.start_date) for round_ in self.rounds.all())
        return any(
            times_overlap(earlier, later) for earlier, later in itertools.pairwise(intervals)
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
    def part_label(self):
        """'deel 2 van 2', or 'deel 2' without a number of parts."""
        if not self.part_number:
            return ""
        if self.part_count:
            return _("part %(number)s of %(count)s") % {
                "number": self.part_number,
                "count": self.part_count,
            }
        return _("part %(number)s") % {"number": self.part_number}

    @property
    def is_evening(self):
        """Starts at 17:00 or later: roles then show their evening name."""
        return bool(self.start_time) and self.start_time >= EVENING_STARTS

    @property
    def place(self):
        """Short 'where' for cards: the city, or 'online'."""
        if self.venue_id:
            return self.venue.city
        if self.is_online:
            return _("online")
        return _("venue to be announced") if self.venue_to_be_announced else ""

    @property
    def effective_contact(self):
        """The event's contact person, or the series' one when the event names none."""
        if self.has_contact or not self.series_id:
            return self
        return self.series if self.series.has_contact else self

    @property
    def uses_preferences(self):
        return self.allocation_mode == self.AllocationMode.PREFERENCE

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

    def mark_repeated_sessions(self):
        """Mark each offering of the prefetched rounds with the other rounds its session is
        offered in (``other_rounds``), the first of them all (``first_round``) and whether
        it is that one (``described_here``): the programme describes a session once in
        full and refers to it from the others. Each round also gets the sessions from
        earlier rounds that run on into it (``continuing``), to mention them there."""
        rounds_of = {}
        for round_ in self.rounds.all():
            for offering in round_.offerings.all():
                rounds_of.setdefault(offering.session_id, []).append(round_)
        for round_ in self.rounds.all():
            round_.continuing = [
                offering
                for other in self.rounds.all()
                if other.pk != round_.pk
                for offering in other.offerings.all()
                if offering.spans(round_, self.start_date)
            ]
        for round_ in self.rounds.all():
            for offering in round_.offerings.all():
                session_rounds = rounds_of[offering.session_id]
                offering.first_round = session_rounds[0]
                offering.described_here = session_rounds[0] is round_
                offering.other_rounds = [other for other in session_rounds if other is not round_]


class EventOrganiser(Organising):
    event = models.ForeignKey(
        "events.Event",
        verbose_name=_("event"),
        on_delete=models.CASCADE,
        related_name="organiser_links",
    )

    class Meta(Organising.Meta):
        db_table = "events_event_organisers"
        verbose_name = _("organiser")
        verbose_name_plural = _("organisers")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "organisation"], name="eventorganiser_once_per_event"
            ),
        ]


class SeriesOrganiser(Organising):
    series = models.ForeignKey(
        "events.Series",
        verbose_name=_("series"),
        on_delete=models.CASCADE,
        related_name="organiser_links",
    )

    class Meta(Organising.Meta):
        db_table = "events_series_organisers"
        verbose_name = _("organiser")
        verbose_name_plural = _("organisers")
        constraints = [
            models.UniqueConstraint(
                fields=["series", "organisation"], name="seriesorganiser_once_per_series"
            ),
        ]


def _moment(day, time, event_date):
    return datetime.datetime.combine(day or event_date, time)


def times_overlap(first, second):
    """Whether two (start, end) intervals share time. One without a known end
    (start == end) counts as its first minute."""
    (first_start, first_end), (second_start, second_end) = first, second
    return first_start < max(second_end, second_start + ONE_MINUTE) and second_start < max(
        first_end, first_start + ONE_MINUTE
    )


ONE_MINUTE = datetime.timedelta(minutes=1)


def time_range(item):
    """'13:20–15:30', or '13:20' without an end: of a round, a block or an offering."""
    times = item.starts_at.strftime("%H:%M")
    if item.ends_at:
        times += f"–{item.ends_at:%H:%M}"
    return times


class TimedItem(models.Model):
    day = models.DateField(
        _("day"), null=True, blank=True, help_text=_("Only for events of several days.")
    )
    starts_at = models.TimeField(_("starts at"))
    ends_at = models.TimeField(_("ends at"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    location = models.CharField(
        _("place in the venue"),
        max_length=100,
        blank=True,
        help_text=_("For example 'Kennisplein', 'zaal 3' or 'online break-out 2'."),
    )
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

    def interval(self, event_date):
        """(start, end) as naive datetimes; the end is the start when it is not known.
        `event_date`: the event's date, for a round without a day of its own."""
        start = _moment(self.day, self.starts_at, event_date)
        return start, _moment(self.day, self.ends_at, event_date) if self.ends_at else start


class Session(models.Model):
    """A table session or workshop; its text and speakers are edited once.

    Each round in which it runs is a ``SessionOffering`` with its own seats.
    """

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="sessions"
    )
    title = models.CharField(_("title"), max_length=250)
    slug = models.SlugField(_("slug"), max_length=200)
    kind = models.ForeignKey(
        "events.SessionKind",
        verbose_name=_("kind of session"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sessions",
    )
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

    def clean(self):
        if self.kind_id and self.event_id and not self.kind.is_available_for(self.event):
            raise ValidationError(
                {"kind": _("This kind of session belongs to another event or series.")}
            )

    @property
    def more_text(self):
        """The full text without the summary when it opens with it (shown once only)."""
        if self.summary and self.description.startswith(self.summary):
            return self.description[len(self.summary) :].strip()
        return self.description

    @property
    def leaders(self):
        return [role for role in self.roles.all() if role.role_id == SessionRole.Role.LEADER]

    @property
    def other_roles(self):
        return [role for role in self.roles.all() if role.role_id != SessionRole.Role.LEADER]


class SessionOfferingQuerySet(models.QuerySet):
    def current(self):
        """Not cancelled: what the programme shows and people can book."""
        return self.filter(cancelled_at__isnull=True)

    def for_choices(self):
        """What a registration form shows per offering: title, kind, texts and leaders
        with their organisation (the seats left are slots, registrations.seat_slots).

        Lighter than for_cards (no event, organisations or biographies): the form is
        the busiest page when registration opens.
        """
        return (
            self.select_related("session__kind", "last_round")
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

    def for_cards(self):
        """Offerings with their session and its leaders."""
        return (
            self.select_related("session__event", "session__kind", "last_round")
            .prefetch_related(
                Prefetch(
                    "session__roles",
                    queryset=SessionRole.objects.select_related(
                        "speaker__organisation", "role"
                    ).order_by("order", "pk"),
                )
            )
            .order_by("order", "session__order", "pk")
        )


class SessionOffering(models.Model):
    """A session as offered in one round, with its own seats and attendee list."""

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
    last_round = models.ForeignKey(
        "events.Round",
        verbose_name=_("until the end of round"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_(
            "Only for a session that lasts several rounds, such as an excursion: the round "
            "in which it ends. It has one set of seats, and takes up every round in between."
        ),
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
        if self.last_round_id:
            return f"{self.session.title} – {self.round.title} – {self.last_round.title}"
        return f"{self.session.title} – {self.round.title}"

    def save(self, *args, **kwargs):
        """Save in one transaction with what listens to the save: when the round or
        session changes, the registrations app moves the people who booked the offering
        along (registrations.bookings), or refuses the move, and then nothing is saved."""
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)

    def clean(self):
        errors = {}
        if self.session_id and self.event_id and self.session.event_id != self.event_id:
            errors["session"] = _("The session belongs to another event.")
        if self.round_id and self.event_id and self.round.event_id != self.event_id:
            errors["round"] = _("The round belongs to another event.")
        if self.last_round_id and self.round_id and "round" not in errors:
            last = self.last_round
            if last.event_id != self.round.event_id:
                errors["last_round"] = _("The round belongs to another event.")
            elif last.day != self.round.day or last.starts_at <= self.round.starts_at:
                errors["last_round"] = _("Choose a later round on the same day.")
        if errors:
            raise ValidationError(errors)

    # The offering's own times: from the start of its round to the end of its last round.

    @property
    def end_round(self):
        return self.last_round if self.last_round_id else self.round

    @property
    def day(self):
        return self.round.day

    @property
    def starts_at(self):
        return self.round.starts_at

    @property
    def ends_at(self):
        return self.end_round.ends_at

    @property
    def spans_rounds(self):
        return self.last_round_id is not None

    @property
    def rounds_title(self):
        """'Ronde 1', or 'Ronde 1 – Ronde 2' for a session across rounds."""
        if self.last_round_id:
            return f"{self.round.title} – {self.last_round.title}"
        return self.round.title

    def interval(self, event_date):
        """(start, end) as naive datetimes, as ``Round.interval``."""
        return self.round.interval(event_date)[0], self.end_round.interval(event_date)[1]

    def spans(self, round_, event_date):
        """Whether `round_` is one this offering runs on into: a later round that starts
        before its last round ends (the last round included)."""
        if not self.last_round_id or round_.pk == self.round_id:
            return False
        round_start = round_.interval(event_date)[0]
        first_start = self.round.interval(event_date)[0]
        return first_start <= round_start <= self.last_round.interval(event_date)[0]

    def takes_up(self, round_, event_date):
        """Whether someone in this offering can attend nothing in `round_`: its own round,
        a round it spans, or a round whose time overlaps its own."""
        return (
            round_.pk == self.round_id
            or self.spans(round_, event_date)
            or times_overlap(self.interval(event_date), round_.interval(event_date))
        )

    def clashes_with(self, other, event_date):
        """Whether one person cannot attend both: their times overlap, or one starts in a
        round the other takes up."""
        return (
            self.takes_up(other.round, event_date)
            or other.takes_up(self.round, event_date)
            or times_overlap(self.interval(event_date), other.interval(event_date))
        )


class Appearance(models.Model):
    """What event and session roles share: who appears there, and how they are shown.

    Either a speaker with a page of their own, or a participant named in a few words
    ("een bewoner uit de wijk") who has none.
    """

    participant = models.CharField(
        _("participant without a speaker page"),
        max_length=200,
        blank=True,
        help_text=_(
            "Instead of a speaker: for example 'een bewoner uit de wijk' or "
            "'wethouder met een inwoner'."
        ),
    )
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
        return f"{self.name}: {self.label}"

    @property
    def name(self):
        return self.speaker.name if self.speaker_id else self.participant

    def clean(self):
        from django.core.exceptions import ValidationError

        if bool(self.speaker_id) == bool(self.participant):
            message = _("Choose a speaker or describe the participant, one of the two.")
            raise ValidationError({"participant": message})

    @property
    def label(self):
        """The role's name as this event shows it (the evening name at an evening)."""
        return self.role.shown_for(self.programme_event)

    @property
    def shown_affiliation(self):
        """What follows the name: this appearance's affiliation, else the speaker's."""
        if self.affiliation or not self.speaker_id:
            return self.affiliation
        speaker = self.speaker
        parts = [speaker.function, speaker.organisation.name if speaker.organisation_id else ""]
        return ", ".join(part for part in parts if part)


class RoleCodes:
    """Codes of the default roles (events/defaults.py) that code refers to."""

    CHAIR = "chair"
    MODERATOR = "moderator"
    PRESENTER = "presenter"
    OPENING = "opening"
    SPEAKER = "speaker"
    TABLE_GUEST = "table_guest"
    LEADER = "leader"


def role_field(default, related_name):
    # Keyed by code, in the column of the former fixed choices: fixtures name the code.
    return models.ForeignKey(
        "events.RoleLabel",
        verbose_name=_("role"),
        on_delete=models.PROTECT,
        to_field="code",
        db_column="role",
        default=default,
        related_name=related_name,
    )


def speaker_or_participant(prefix):
    return models.CheckConstraint(
        condition=(Q(speaker__isnull=False) & Q(participant=""))
        | (Q(speaker__isnull=True) & ~Q(participant="")),
        name=f"{prefix}_speaker_or_participant",
        violation_error_message=_("Choose a speaker or describe the participant, one of the two."),
    )


class EventRole(Appearance):
    Role = RoleCodes

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="roles"
    )
    speaker = models.ForeignKey(
        "speakers.Speaker",
        verbose_name=_("speaker"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="event_roles",
    )
    role = role_field(RoleCodes.SPEAKER, "event_roles")
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
            speaker_or_participant("eventrole"),
        ]

    @property
    def programme_event(self):
        return self.event


class SessionRole(Appearance):
    Role = RoleCodes

    session = models.ForeignKey(
        "events.Session", verbose_name=_("session"), on_delete=models.CASCADE, related_name="roles"
    )
    speaker = models.ForeignKey(
        "speakers.Speaker",
        verbose_name=_("speaker"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="session_roles",
    )
    role = role_field(RoleCodes.LEADER, "session_roles")

    class Meta:
        ordering = ["session", "order", "pk"]
        verbose_name = _("role in the session")
        verbose_name_plural = _("roles in the session")
        constraints = [
            models.UniqueConstraint(
                fields=["session", "speaker", "role"], name="sessionrole_unique_speaker_role"
            ),
            speaker_or_participant("sessionrole"),
        ]

    @property
    def programme_event(self):
        return self.session.event
