"""What each public page shows, and which changes renew the pages kept of it.

A kept page (``sitewide.pagecache``) names its scopes; a change to the programme renews
them when it commits:

- ``"event:<slug>"``: an event's page, its session pages and its registration form;
- ``"series:<slug>"``: a series page;
- ``"listing"``: the pages that list events from everywhere (home, speaker pages);
- ``"site"``: what every page may show: venues, organisations, speakers, and the lists of
  labels (kinds of event and session, roles).

The receivers below are connected in ``EventsConfig.ready()`` and run for every save and
delete through the ORM: the admin and its inlines, imports, copies, fixtures and commands.
Writes that bypass the signals (``QuerySet.update()``, ``bulk_create()``) call ``renew``
themselves. Registrations renew nothing: their seats are slots filled per response.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from sitewide import pagecache
from speakers.models import Organisation, Speaker

from .models import (
    Event,
    EventKind,
    EventOrganiser,
    EventRole,
    MeetingKind,
    ProgrammeBlock,
    RoleLabel,
    Round,
    Series,
    SeriesKind,
    SeriesOrganiser,
    Session,
    SessionKind,
    SessionOffering,
    SessionRole,
    Venue,
)


def event_page(slug, **_kwargs):
    return ("site", f"event:{slug}")


def session_page(event_slug, **_kwargs):
    return event_page(event_slug)


def series_page(slug, **_kwargs):
    return ("site", f"series:{slug}")


def listing_page(**_kwargs):
    return ("site", "listing")


def event_changed(event_pk, using="default"):
    """Renew the pages of the event `event_pk` (for writes that send no signals)."""
    slugs = Event.objects.using(using).filter(pk=event_pk).values_list("slug", "series__slug")
    for slug, series_slug in slugs:
        pagecache.renew(*_event_scopes(slug, series_slug), using=using)


def _event_scopes(slug, series_slug):
    scopes = [f"event:{slug}", "listing"]
    if series_slug:
        scopes.append(f"series:{series_slug}")
    return scopes


def _remember_event(sender, instance, raw=False, using="default", **kwargs):
    """pre_save of an event: its slug and series as stored, whose pages change too."""
    instance._stored_scopes = []
    if instance.pk is not None and not raw:
        for slug, series_slug in (
            sender.objects.using(using).filter(pk=instance.pk).values_list("slug", "series__slug")
        ):
            instance._stored_scopes = _event_scopes(slug, series_slug)


def _event_saved_or_deleted(sender, instance, using="default", **kwargs):
    series_slug = instance.series.slug if instance.series_id else None
    scopes = _event_scopes(instance.slug, series_slug)
    pagecache.renew(*scopes, *getattr(instance, "_stored_scopes", []), using=using)


def _remember_series(sender, instance, raw=False, using="default", **kwargs):
    instance._stored_slug = None
    if instance.pk is not None and not raw:
        instance._stored_slug = (
            sender.objects.using(using)
            .filter(pk=instance.pk)
            .values_list("slug", flat=True)
            .first()
        )


def _series_saved_or_deleted(sender, instance, using="default", **kwargs):
    # Its events' pages name the series (breadcrumb).
    events = Event.objects.using(using).filter(series_id=instance.pk).values_list("slug", flat=True)
    old = getattr(instance, "_stored_slug", None)
    pagecache.renew(
        f"series:{instance.slug}",
        *([f"series:{old}"] if old else []),
        "listing",
        *(f"event:{slug}" for slug in events),
        using=using,
    )


def _programme_item_changed(sender, instance, using="default", **kwargs):
    """A block, round, session, offering or role of an event changed."""
    owner = instance
    if isinstance(instance, SessionRole):
        if not SessionRole.session.is_cached(instance):
            sessions = Session.objects.using(using).filter(pk=instance.session_id)
            for event_pk in sessions.values_list("event_id", flat=True):
                event_changed(event_pk, using=using)
            return
        owner = instance.session
    if type(owner).event.is_cached(owner):  # as the admin's inlines have it: no query
        pagecache.renew(f"event:{owner.event.slug}", "listing", using=using)
    else:
        event_changed(owner.event_id, using=using)


def _site_changed(sender, using="default", **kwargs):
    pagecache.renew("site", using=using)


def _series_part_changed(sender, instance, using="default", **kwargs):
    """An organiser link or a kind of meeting of a series changed."""
    slugs = Series.objects.using(using).filter(pk=instance.series_id).values_list("slug", flat=True)
    for slug in slugs:
        pagecache.renew(f"series:{slug}", "listing", using=using)


def _organisers_changed(sender, instance, action, using="default", **kwargs):
    if action in {"post_add", "post_remove", "post_clear"}:
        if isinstance(instance, Event):
            _event_saved_or_deleted(Event, instance, using=using)
        elif isinstance(instance, Series):
            pagecache.renew(f"series:{instance.slug}", "listing", using=using)
        else:  # reverse side: an organisation's events or series
            pagecache.renew("site", using=using)


def connect():
    uid = "events.page_scopes"
    pre_save.connect(_remember_event, sender=Event, dispatch_uid=f"{uid}.event")
    pre_save.connect(_remember_series, sender=Series, dispatch_uid=f"{uid}.series")
    for signal in (post_save, post_delete):
        signal.connect(_event_saved_or_deleted, sender=Event, dispatch_uid=f"{uid}.event")
        signal.connect(_series_saved_or_deleted, sender=Series, dispatch_uid=f"{uid}.series")
        programme_items = (
            ProgrammeBlock,
            Round,
            Session,
            SessionOffering,
            EventRole,
            SessionRole,
            EventOrganiser,
        )
        for model in programme_items:
            signal.connect(_programme_item_changed, sender=model, dispatch_uid=f"{uid}.{model}")
        for model in (SeriesOrganiser, MeetingKind):
            signal.connect(_series_part_changed, sender=model, dispatch_uid=f"{uid}.{model}")
        # Shown on many pages: venues, people, and the lists of labels.
        for model in (Venue, Organisation, Speaker, EventKind, RoleLabel, SessionKind, SeriesKind):
            signal.connect(_site_changed, sender=model, dispatch_uid=f"{uid}.{model}")
    for through in (Event.organisers.through, Series.organisers.through):
        m2m_changed.connect(_organisers_changed, sender=through, dispatch_uid=f"{uid}.{through}")
