from django.db import migrations
from django.db.models import OuterRef, Q, Subquery


def follow_offerings(apps, schema_editor):
    """Choices whose copy of their offering's round or session went stale (an offering moved
    to another round before the copies followed it) point at the offering's own again,
    unless that would give the person two sessions in one round: those stay as they are,
    for an organiser to decide."""
    SessionChoice = apps.get_model("registrations", "SessionChoice")
    SessionOffering = apps.get_model("events", "SessionOffering")
    offering = SessionOffering.objects.filter(pk=OuterRef("offering_id"))
    stale = SessionChoice.objects.annotate(
        offering_round=Subquery(offering.values("round_id")),
        offering_session=Subquery(offering.values("session_id")),
    ).exclude(
        round_id=Subquery(offering.values("round_id")),
        session_id=Subquery(offering.values("session_id")),
    )
    for choice in stale:
        if choice.status != "cancelled":
            clash = (
                SessionChoice.objects.filter(registration_id=choice.registration_id)
                .exclude(status="cancelled")
                .exclude(pk=choice.pk)
                .filter(Q(round_id=choice.offering_round) | Q(session_id=choice.offering_session))
            )
            if clash.exists():
                continue
        choice.round_id = choice.offering_round
        choice.session_id = choice.offering_session
        choice.save(update_fields=["round_id", "session_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("registrations", "0006_export_columns"),
        ("events", "0004_allocation_mode"),
    ]

    operations = [migrations.RunPython(follow_offerings, migrations.RunPython.noop)]
