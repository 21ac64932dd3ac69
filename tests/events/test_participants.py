"""A programme item can name a participant who has no speaker page."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.urls import reverse

from events.models import EventRole, SessionRole
from events.services import copy_as_draft
from tests.factories import EventRoleFactory, SessionRoleFactory, SpeakerFactory, build_programme

pytestmark = pytest.mark.django_db


@pytest.fixture
def event_with_resident():
    event = build_programme(sessions=1, rounds=1, speakers_per_session=1, event_speakers=1)
    EventRoleFactory(event=event, speaker=None, participant="een bewoner uit de wijk")
    EventRoleFactory(
        event=event, speaker=None, participant="Wethouder met een inwoner", role="opening"
    )
    SessionRoleFactory(
        session=event.sessions.get(), speaker=None, participant="Tafelgast uit Overvecht"
    )
    return event


def test_participants_show_where_roles_show_without_a_link(client, event_with_resident):
    content = client.get(event_with_resident.get_absolute_url()).content.decode()

    assert '<dd><span lang="nl">Wethouder met een inwoner</span></dd>' in content
    assert '<h3 class="speaker-card__name"><span lang="nl">een bewoner uit de wijk</span></h3>' in (
        content
    )
    assert '<li><span lang="nl">Tafelgast uit Overvecht</span>' in content
    assert '"name": "een bewoner' not in content  # not a performer in the JSON-LD

    session = event_with_resident.sessions.get()
    page = client.get(session.get_absolute_url()).content.decode()
    assert '<span lang="nl">Tafelgast uit Overvecht</span></h3>' in page

    form = client.get(reverse("registrations:create", args=[event_with_resident.slug]))
    assert "Tafelgast uit Overvecht" in form.content.decode()


def test_a_role_names_a_speaker_or_a_participant_not_both_nor_neither(event_with_resident):
    speaker = SpeakerFactory()
    for role in [
        EventRole(event=event_with_resident, role_id="speaker"),
        EventRole(event=event_with_resident, role_id="speaker", speaker=speaker, participant="x"),
        SessionRole(session=event_with_resident.sessions.get(), role_id="leader"),
    ]:
        with pytest.raises(ValidationError) as error:
            role.full_clean()
        assert "participant" in error.value.message_dict
    with pytest.raises(IntegrityError):
        EventRole.objects.create(event=event_with_resident, role_id="speaker")


def test_a_copy_keeps_the_participants(event_with_resident):
    copy = copy_as_draft(event_with_resident)

    assert sorted(copy.roles.exclude(participant="").values_list("participant", flat=True)) == [
        "Wethouder met een inwoner",
        "een bewoner uit de wijk",
    ]
    assert SessionRole.objects.filter(
        session__event=copy, participant="Tafelgast uit Overvecht"
    ).exists()


def test_admin_inline_takes_a_participant_without_speaker(admin_client, event_with_resident):
    role = event_with_resident.roles.get(participant="een bewoner uit de wijk")
    response = admin_client.get(reverse("admin:events_event_change", args=[role.event_id]))
    assert 'name="roles-0-participant"' in response.content.decode()
    assert str(role) == "een bewoner uit de wijk: spreker"
