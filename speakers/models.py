from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    url = models.URLField(_("website"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self):
        return self.name


class SpeakerQuerySet(models.QuerySet):
    def for_speaker_page(self):
        """Everything templates/speakers/speaker_detail.html renders, in constant queries.

        Roles live in the events app (imports go events -> speakers), so their
        models are reached through the reverse relations instead of imports.
        """
        event_role = self.model.event_roles.rel.related_model
        session_role = self.model.session_roles.rel.related_model
        offering = session_role.session.field.related_model.offerings.rel.related_model
        return self.select_related("organisation").prefetch_related(
            models.Prefetch(
                "event_roles",
                queryset=event_role.objects.filter(event__is_published=True)
                .select_related("event__venue", "role")
                .order_by("-event__start_date", "order", "pk"),
            ),
            models.Prefetch(
                "session_roles",
                queryset=session_role.objects.filter(session__event__is_published=True)
                .select_related("session__event", "role")
                .prefetch_related(
                    models.Prefetch(
                        "session__offerings",
                        queryset=offering.objects.select_related("round", "last_round").order_by(
                            "round__order", "round__starts_at", "pk"
                        ),
                    )
                )
                .order_by("-session__event__start_date", "session__order", "pk"),
            ),
        )


class Speaker(models.Model):
    """A person who speaks, leads a session, chairs or is a table guest."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=200, unique=True)
    organisation = models.ForeignKey(
        "speakers.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="speakers",
    )
    function = models.CharField(
        _("function"),
        max_length=200,
        blank=True,
        help_text=_("Job title or role, for example 'wethouder' or 'wijkmanager'."),
    )
    biography = models.TextField(_("biography"), blank=True)
    photo = models.ImageField(_("photo"), upload_to="speakers/", blank=True)
    photo_description = models.CharField(
        _("photo description"),
        max_length=200,
        blank=True,
        help_text=_("Text alternative for the photo; leave empty to use the name."),
    )
    url = models.URLField(_("link"), blank=True)
    email = models.EmailField(
        _("public e-mail address"),
        blank=True,
        help_text=_("Shown on the site, for example for questions in advance."),
    )

    objects = SpeakerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("speaker")
        verbose_name_plural = _("speakers")

    def __str__(self):
        if self.organisation_id:
            return f"{self.name} ({self.organisation})"
        return self.name

    def get_absolute_url(self):
        return reverse("speakers:detail", kwargs={"slug": self.slug})

    @property
    def photo_alt(self):
        return self.photo_description or self.name
