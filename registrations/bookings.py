"""Bookings follow their offering when an organiser moves it to another round or session.

A session choice keeps a copy of its offering's round and session (the database enforces one
session per round with them), and a ranking a copy of its round. A copy left behind made the
choice invisible on the participant's page, which then offered "no session" and dropped it on
the next save. So every save of an offering, from any page or command, brings the copies
along, inside the offering's own transaction (``SessionOffering.save``). A move that would give
someone two sessions in one round is refused: the organiser decides those cases first, on the
page that shows the consequences (``services.programme_changes``).
"""

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from .models import Preference, SessionChoice, Status

RANKS = (1, 2, 3)  # Preference.rank: at most three sessions ranked per round


def remember_placement(sender, instance, raw=False, using="default", **kwargs):
    """pre_save of an offering: its round and session as stored."""
    instance._stored_placement = None
    if instance.pk is not None and not instance._state.adding and not raw:
        stored = sender.objects.using(using).filter(pk=instance.pk)
        instance._stored_placement = stored.values_list("round_id", "session_id").first()


def carry_bookings(sender, instance, raw=False, **kwargs):
    """post_save of an offering: bring its choices' and rankings' copies in line."""
    stored = getattr(instance, "_stored_placement", None)
    if raw or stored is None or stored == (instance.round_id, instance.session_id):
        return
    if conflicting_choices(instance).exists():
        raise ValidationError(
            _(
                "Some people who booked this session already have another session in "
                "that round. Decide for them first on the page that shows the consequences."
            ),
            code="booking_conflict",
        )
    SessionChoice.objects.filter(offering=instance).update(
        round_id=instance.round_id, session_id=instance.session_id
    )
    rankings = Preference.objects.filter(offering=instance)
    taken = {}  # {registration pk: ranks used in the new round}
    for registration_id, rank in (
        Preference.objects.filter(
            round_id=instance.round_id,
            registration_id__in=rankings.values("registration_id"),
        )
        .exclude(offering=instance)
        .values_list("registration_id", "rank")
    ):
        taken.setdefault(registration_id, set()).add(rank)
    for ranking in rankings.filter(registration_id__in=list(taken)):
        # Someone who ranked sessions in the new round already keeps this one too, after
        # theirs: its rank becomes the first one free there.
        free = [rank for rank in RANKS if rank not in taken[ranking.registration_id]]
        if not free:
            raise ValidationError(
                _(
                    "Some people ranked three sessions in that round already; "
                    "the move would lose it."
                ),
                code="ranking_conflict",
            )
        ranking.rank = free[0]
        ranking.round_id = instance.round_id
        ranking.save(update_fields=["rank", "round"])
    rankings.update(round_id=instance.round_id)


def conflicting_choices(offering):
    """Active choices of `offering` whose person holds another active choice in its round
    or of its session: they cannot both stand."""
    active = SessionChoice.objects.exclude(status=Status.CANCELLED)
    others = active.exclude(offering=offering).filter(
        Q(round_id=offering.round_id) | Q(session_id=offering.session_id)
    )
    return active.filter(offering=offering, registration_id__in=others.values("registration_id"))
