"""The fixture fixtures/dag-van-de-buurt-2021.json reproduces seed 002 ("Dag van de Buurt")."""

import datetime
from collections import Counter

import pytest
from django.conf import settings
from django.core.management import call_command

from events.models import Event, EventRole, ProgrammeBlock, Round, Session, SessionOffering
from registrations.availability import registration_state
from speakers.models import Speaker

pytestmark = pytest.mark.django_db

FIXTURE = settings.BASE_DIR / "fixtures" / "dag-van-de-buurt-2021.json"
SLUG = "dag-van-de-buurt-2021"
SESSIONS_IN_BOTH_ROUNDS = {
    "abcd-in-de-wijkaanpak",
    "het-nieuwe-wijkgericht-werken",
    "zeggenschap-door-geld-de-burgerbegroting",
}


@pytest.fixture(autouse=True)
def dag_van_de_buurt(db):
    call_command("loaddata", str(FIXTURE), verbosity=0)
    return Event.objects.get(slug=SLUG)


def _texts(event):
    """Every free text field of the event and what hangs from it."""
    yield event.summary
    yield event.introduction
    for block in event.programme_blocks.all():
        yield block.title
        yield block.description
    for session in event.sessions.all():
        yield session.title
        yield session.summary
        yield session.description
    speakers = Speaker.objects.filter(event_roles__event=event) | Speaker.objects.filter(
        session_roles__session__event=event
    )
    for speaker in speakers.distinct():
        yield speaker.name
        yield speaker.function
        yield speaker.biography


# ------------------------------------------------------------------------------ the event


def test_event_date_and_times_match_the_seed(dag_van_de_buurt):
    # Arrange
    event = dag_van_de_buurt

    # Act
    times = (event.start_date, event.end_date, event.start_time, event.end_time)

    # Assert
    assert times == (datetime.date(2021, 1, 28), None, datetime.time(13, 0), datetime.time(16, 30))


def test_event_is_published_online_theme_day_without_venue(dag_van_de_buurt):
    # Arrange
    event = dag_van_de_buurt

    # Act
    facts = (event.title, event.kind_id, event.is_published, event.is_online, event.venue_id)

    # Assert
    assert facts == ("Dag van de Buurt", "theme_day", True, True, None)
    assert event.online_note == "Online, live vanuit de studio"
    assert event.price_note == ""


def test_seed_paragraphs_appear_once_in_introduction_or_programme(dag_van_de_buurt):
    # Arrange
    event = dag_van_de_buurt
    opening, closing = event.programme_blocks.order_by("starts_at")

    # Act
    paragraphs = event.introduction.split("\n\n")

    # Assert: the opening and closing paragraphs live in their programme blocks.
    assert len(paragraphs) == 2
    assert "Met 26 sessies, verdeeld over twee rondes, is er veel keuze." in paragraphs[0]
    assert paragraphs[1] == "De dag wordt geleid door Hadassah de Boer."
    assert opening.description.startswith("Om 13.00 uur trapt Lucas de Man de Dag van de Buurt af.")
    assert closing.description.startswith("Om 16.00 uur zien we elkaar weer terug in de studio.")


def test_event_registration_window_closed_before_the_day(dag_van_de_buurt):
    # Arrange
    event = dag_van_de_buurt
    day_before = datetime.datetime(2021, 1, 28, 9, 0, tzinfo=datetime.UTC)

    # Act
    state = registration_state(event, now=day_before)

    # Assert
    assert event.registration_opens_at == datetime.datetime(2020, 12, 1, 8, 0, tzinfo=datetime.UTC)
    assert event.registration_closes_at == datetime.datetime(
        2021, 1, 27, 22, 59, tzinfo=datetime.UTC
    )
    assert state == "closed"


def test_event_texts_without_page_furniture(dag_van_de_buurt):
    # Arrange
    furniture = ("Lees meer", "Klik om te sluiten", "Cookies", "cookiebeleid", "Invitado")

    # Act
    found = [
        (word, text[:60]) for text in _texts(dag_van_de_buurt) for word in furniture if word in text
    ]

    # Assert
    assert found == []


# ------------------------------------------------------------------------------ the programme


def test_programme_blocks_opening_at_13_and_closing_at_16(dag_van_de_buurt):
    # Arrange
    blocks = ProgrammeBlock.objects.filter(event=dag_van_de_buurt).order_by("starts_at")

    # Act
    summary = [(b.starts_at, b.ends_at, b.kind) for b in blocks]

    # Assert
    assert summary == [
        (datetime.time(13, 0), datetime.time(13, 45), "plenary"),
        (datetime.time(16, 0), datetime.time(16, 30), "closing"),
    ]
    assert "Minister van Wijken" in blocks[1].title


def test_rounds_start_at_14_and_15(dag_van_de_buurt):
    # Arrange
    rounds = Round.objects.filter(event=dag_van_de_buurt).order_by("starts_at")

    # Act
    summary = [(r.title, r.starts_at, r.ends_at) for r in rounds]

    # Assert
    assert summary == [
        ("Ronde 1", datetime.time(14, 0), datetime.time(14, 45)),
        ("Ronde 2", datetime.time(15, 0), datetime.time(15, 45)),
    ]


def test_timeline_orders_opening_rounds_closing(dag_van_de_buurt):
    # Arrange
    event = Event.objects.for_programme().get(slug=SLUG)

    # Act
    starts = [item.starts_at for item in event.timeline()]

    # Assert
    assert starts == [datetime.time(h, 0) for h in (13, 14, 15, 16)]


# ------------------------------------------------------------------------------ sessions


def test_sessions_count_is_23_distinct_workshops(dag_van_de_buurt):
    # Arrange / Act
    count = Session.objects.filter(event=dag_van_de_buurt).count()

    # Assert
    assert count == 23


def test_offerings_total_26_as_the_seed_says(dag_van_de_buurt):
    # Arrange / Act
    count = SessionOffering.objects.filter(event=dag_van_de_buurt).count()

    # Assert
    assert count == 26


def test_offerings_per_round_are_13_each(dag_van_de_buurt):
    # Arrange
    offerings = SessionOffering.objects.filter(event=dag_van_de_buurt)

    # Act
    per_round = Counter(offerings.values_list("round__title", flat=True))

    # Assert
    assert per_round == {"Ronde 1": 13, "Ronde 2": 13}


def test_sessions_offered_in_both_rounds_are_abcd_wijkgericht_and_burgerbegroting(
    dag_van_de_buurt,
):
    # Arrange
    offerings = SessionOffering.objects.filter(event=dag_van_de_buurt)

    # Act
    counts = Counter(offerings.values_list("session__slug", flat=True))
    twice = {slug for slug, n in counts.items() if n == 2}

    # Assert
    assert twice == SESSIONS_IN_BOTH_ROUNDS
    assert max(counts.values()) == 2


def test_offerings_of_a_repeated_session_use_the_same_online_room(dag_van_de_buurt):
    # Arrange
    offerings = SessionOffering.objects.filter(
        event=dag_van_de_buurt, session__slug="abcd-in-de-wijkaanpak"
    ).order_by("round__starts_at")

    # Act
    rooms = [(o.round.title, o.location, o.capacity) for o in offerings]

    # Assert
    assert rooms == [("Ronde 1", "Online zaal 1", 40), ("Ronde 2", "Online zaal 1", 40)]


def test_offerings_have_an_online_room_and_seats(dag_van_de_buurt):
    # Arrange
    offerings = SessionOffering.objects.filter(event=dag_van_de_buurt)

    # Act
    capacities = Counter(offerings.values_list("capacity", flat=True))
    rooms_per_round = {
        title: sorted(
            offerings.filter(round__title=title).values_list("location", flat=True),
            key=lambda loc: int(loc.rsplit(" ", 1)[1]),
        )
        for title in ("Ronde 1", "Ronde 2")
    }

    # Assert
    assert capacities == {40: 20, 30: 4, 60: 2}
    expected_rooms = [f"Online zaal {n}" for n in range(1, 14)]
    assert rooms_per_round == {"Ronde 1": expected_rooms, "Ronde 2": expected_rooms}


def test_round_one_lists_the_workshops_in_seed_order(dag_van_de_buurt):
    # Arrange
    offerings = SessionOffering.objects.filter(
        event=dag_van_de_buurt, round__title="Ronde 1"
    ).order_by("order")

    # Act
    titles = [o.session.title for o in offerings]

    # Assert
    assert titles[0] == "ABCD in de wijkaanpak: van binnenuit met bewoners als programmamakers"
    assert titles[-1] == "De Capability Approach in de praktijk"
    assert len(titles) == 13


def test_three_leeragenda_sessions_are_distinct(dag_van_de_buurt):
    # Arrange
    sessions = Session.objects.filter(
        event=dag_van_de_buurt, title__startswith="Nieuwe leeragenda wijkaanpak"
    )

    # Act
    themes = set(sessions.values_list("theme", flat=True))

    # Assert
    assert sessions.count() == 3
    assert themes == {"Nieuwe leeragenda wijkaanpak"}


def test_repeated_session_keeps_the_full_round_one_text(dag_van_de_buurt):
    # Arrange
    session = Session.objects.get(event=dag_van_de_buurt, slug="het-nieuwe-wijkgericht-werken")

    # Act
    last_paragraph = session.description.split("\n\n")[-1]

    # Assert
    assert last_paragraph == (
        "Door: Jetze van der Ham (Platform 31), Willem Stam (Gemeente Den Helder) en "
        "Han van Geel (Gemeente Zutphen)"
    )


def test_session_summaries_are_taken_from_their_description(dag_van_de_buurt):
    # Arrange
    sessions = Session.objects.filter(event=dag_van_de_buurt)

    # Act
    first_words_missing = [
        s.slug for s in sessions if not s.summary or s.summary[:40] not in s.description
    ]

    # Assert
    assert first_words_missing == []


# ------------------------------------------------------------------------------ people


def test_event_roles_per_kind(dag_van_de_buurt):
    # Arrange
    roles = EventRole.objects.filter(event=dag_van_de_buurt)

    # Act
    per_kind = Counter(roles.values_list("role", flat=True))

    # Assert
    assert per_kind == {"opening": 1, "speaker": 3, "table_guest": 4, "presenter": 1}


def test_presenter_is_hadassah_de_boer(dag_van_de_buurt):
    # Arrange / Act
    names = list(
        EventRole.objects.filter(event=dag_van_de_buurt, role="presenter").values_list(
            "speaker__name", flat=True
        )
    )

    # Assert
    assert names == ["Hadassah de Boer"]


def test_opening_is_lucas_de_man(dag_van_de_buurt):
    # Arrange / Act
    names = list(
        EventRole.objects.filter(event=dag_van_de_buurt, role="opening").values_list(
            "speaker__name", flat=True
        )
    )

    # Assert
    assert names == ["Lucas de Man"]


def test_speakers_are_ensberg_kleijkers_van_der_lans_and_van_duijnhoven(dag_van_de_buurt):
    # Arrange / Act
    names = set(
        EventRole.objects.filter(event=dag_van_de_buurt, role="speaker").values_list(
            "speaker__name", flat=True
        )
    )

    # Assert
    assert names == {"Dave Ensberg-Kleijkers", "Jos van der Lans", "Petra van Duijnhoven"}


def test_table_guests_are_the_four_named_in_the_closing(dag_van_de_buurt):
    # Arrange / Act
    names = set(
        EventRole.objects.filter(event=dag_van_de_buurt, role="table_guest").values_list(
            "speaker__name", flat=True
        )
    )

    # Assert
    assert names == {
        "Ahmed Marcouch",
        "Harry van der Molen",
        "Marco Pastors",
        "Tanja Jadnanansing",
    }


def test_marcouch_is_burgemeester_of_gemeente_arnhem(dag_van_de_buurt):
    # Arrange / Act
    speaker = Speaker.objects.select_related("organisation").get(slug="ahmed-marcouch")

    # Assert
    assert (speaker.function, speaker.organisation.name) == ("burgemeester", "Gemeente Arnhem")


def test_biography_of_jos_van_der_lans_has_both_seed_paragraphs(dag_van_de_buurt):
    # Arrange
    speaker = Speaker.objects.get(slug="jos-van-der-lans")

    # Act
    paragraphs = speaker.biography.split("\n\n")

    # Assert
    assert len(paragraphs) == 2
    assert paragraphs[1].startswith("Jos van der Lans is cultuurpsycholoog en publicist.")
    assert "het Dogma Aanbesteden (2020)." in paragraphs[1]


def test_biography_of_lucas_de_man_keeps_the_seed_phrase(dag_van_de_buurt):
    # Arrange / Act
    biography = Speaker.objects.get(slug="lucas-de-man").biography

    # Assert
    assert "een 'moment van niet moeten', een plek waar je kwetsbaar én krachtig kan zijn." in (
        biography
    )


def test_abcd_workshop_is_led_by_birgit_oelkers_with_her_email(dag_van_de_buurt):
    # Arrange
    session = Session.objects.get(event=dag_van_de_buurt, slug="abcd-in-de-wijkaanpak")

    # Act
    leaders = [
        (r.speaker.name, r.speaker.email, r.speaker.url)
        for r in session.roles.filter(role="leader")
    ]

    # Assert
    assert leaders == [("Birgit Oelkers", "oelkers@planenaanpak.nl", "https://www.planenaanpak.nl")]


def test_session_roles_per_kind(dag_van_de_buurt):
    # Arrange
    sessions = Session.objects.filter(event=dag_van_de_buurt)

    # Act
    per_kind = Counter(
        role.role_id
        for session in sessions.prefetch_related("roles")
        for role in session.roles.all()
    )

    # Assert
    assert per_kind == {"leader": 33, "speaker": 1}


def test_sessions_without_named_leaders_are_the_organisation_led_ones(dag_van_de_buurt):
    # Arrange
    sessions = Session.objects.filter(event=dag_van_de_buurt, roles__isnull=True)

    # Act
    slugs = set(sessions.values_list("slug", flat=True))

    # Assert
    assert slugs == {
        "buurtagenda-in-een-uur",
        "leeragenda-vertrouwen-in-instituties-en-elkaar",
        "leeragenda-integraal-preventief-signaleren",
        "leeragenda-gemengde-wijken",
        "wijkaanpak-en-de-commons",
    }


def test_han_van_geel_leads_two_sessions(dag_van_de_buurt):
    # Arrange
    speaker = Speaker.objects.get(slug="han-van-geel")

    # Act
    slugs = set(speaker.session_roles.values_list("session__slug", flat=True))

    # Assert
    assert slugs == {"het-nieuwe-wijkgericht-werken", "sociale-basis-heroveren"}


def test_people_at_the_event_count_41(dag_van_de_buurt):
    # Arrange
    on_stage = set(
        EventRole.objects.filter(event=dag_van_de_buurt).values_list("speaker_id", flat=True)
    )
    in_sessions = set(
        Session.objects.filter(event=dag_van_de_buurt).values_list("roles__speaker_id", flat=True)
    ) - {None}

    # Act
    people = on_stage | in_sessions

    # Assert
    assert (len(on_stage), len(in_sessions), len(people)) == (9, 32, 41)


def test_event_objects_use_primary_keys_3000_to_3999(dag_van_de_buurt):
    # Arrange
    event = dag_van_de_buurt
    querysets = [
        Event.objects.filter(pk=event.pk),
        ProgrammeBlock.objects.filter(event=event),
        Round.objects.filter(event=event),
        Session.objects.filter(event=event),
        SessionOffering.objects.filter(event=event),
        EventRole.objects.filter(event=event),
    ]

    # Act
    outside = [
        pk for qs in querysets for pk in qs.values_list("pk", flat=True) if not 3000 <= pk <= 3999
    ]

    # Assert
    assert outside == []
