"""Copy for next year: the proposal, the form, everything copied, and the summary."""

import datetime

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from events.models import Event, SessionRole
from events.services import copy_as_draft, copy_summary, next_year_date, propose_copy
from registrations.models import SeatReservation
from tests.factories import EventRoleFactory, VenueFactory, build_programme, reserve_seats

pytestmark = pytest.mark.django_db


def aware(*args):
    return timezone.make_aware(datetime.datetime(*args))


@pytest.fixture
def event():
    """Thursday 28 January 2021, with a window of six weeks until the day before."""
    event = build_programme(
        sessions=3,
        rounds=2,
        title="Dag van de Buurt 2021",
        slug="dag-van-de-buurt-2021",
        start_date=datetime.date(2021, 1, 28),
        start_time=datetime.time(13),
        registration_opens_at=aware(2020, 12, 17, 9),
        registration_closes_at=aware(2021, 1, 27, 23, 59),
    )
    return event


def test_next_year_keeps_the_weekday_in_the_same_week():
    thursday = datetime.date(2021, 1, 28)

    dates = [next_year_date(thursday), next_year_date(datetime.date(2024, 2, 29))]

    assert dates == [datetime.date(2022, 1, 27), datetime.date(2025, 2, 27)]
    assert [day.weekday() for day in dates] == [3, 3]
    assert next_year_date(thursday).isocalendar().week == thursday.isocalendar().week


def test_year_in_title_and_web_address_is_replaced_not_appended(event):
    proposal = propose_copy(event)

    assert (proposal.title, proposal.slug) == ("Dag van de Buurt 2022", "dag-van-de-buurt-2022")


def test_title_of_a_season_moves_both_years():
    event = build_programme(
        sessions=0, title="Estafette 2018-2019", slug="estafette-2018-2019",
        start_date=datetime.date(2018, 9, 19),
    )  # fmt: skip

    proposal = propose_copy(event)

    assert (proposal.title, proposal.slug) == ("Estafette 2019-2020", "estafette-2019-2020")


def test_web_address_without_a_year_gets_one_and_a_taken_one_a_number(event):
    event.slug = "dag-van-de-buurt"
    event.save()
    build_programme(sessions=0, slug="dag-van-de-buurt-2022")

    assert propose_copy(event).slug == "dag-van-de-buurt-2022-2"


def test_registration_window_moves_with_the_event(event):
    copy = copy_as_draft(event)

    assert copy.start_date == datetime.date(2022, 1, 27)
    assert (copy.registration_opens_at, copy.registration_closes_at) == (
        aware(2021, 12, 16, 9),
        aware(2022, 1, 26, 23, 59),
    )


def test_window_that_closes_after_the_start_is_refused_in_dutch(event):
    with pytest.raises(ValidationError) as excinfo:
        copy_as_draft(event, registration_closes_at=aware(2022, 1, 27, 14))

    assert excinfo.value.message_dict == {
        "registration_closes_at": [
            "Aanmelden zou sluiten nadat het evenement begint (27-01-2022 13:00). "
            "Kies een moment vóór het begin."
        ]
    }
    assert Event.objects.count() == 1


def test_copy_holds_everything_the_organiser_entered(event, django_user_model):
    moderator = django_user_model.objects.create_user("moderator")
    session_moderator = django_user_model.objects.create_user("tafelleider")
    event.moderators.add(moderator)
    event.venue = VenueFactory()
    event.save()
    EventRoleFactory(event=event, role="presenter", affiliation="Studio Rotterdam")
    role = SessionRole.objects.filter(session__event=event).first()
    role.affiliation = "Gemeente Den Haag"
    role.save()
    offering = event.offerings.order_by("pk").first()
    offering.capacity, offering.location = 12, "Tafel 3"
    offering.save()
    offering.moderators.add(session_moderator)
    reserve_seats(offering, role="resident", share=40)

    copy = copy_as_draft(event)

    def programme(e):
        return (
            list(e.programme_blocks.values_list("starts_at", "ends_at", "title", "kind", "order")),
            list(e.rounds.values_list("starts_at", "ends_at", "title", "order")),
            sorted(e.sessions.values_list("title", "slug", "theme", "summary", "description")),
            sorted(
                e.offerings.values_list("session__title", "round__title", "capacity", "location")
            ),
            sorted(e.roles.values_list("speaker", "role", "affiliation", "note")),
            sorted(
                SessionRole.objects.filter(session__event=e).values_list(
                    "session__title", "speaker", "role", "affiliation", "order"
                )
            ),
            sorted(e.offerings.values_list("session__title", "round__title", "moderators")),
            list(e.moderators.all()),
            list(e.organisers.all()),
            (e.kind, e.series_id, e.venue_id, e.capacity, e.allocation_mode),
        )

    assert programme(copy) == programme(event)
    copied_reservation = SeatReservation.objects.get(event=copy)
    assert (copied_reservation.offering.session.title, copied_reservation.offering.round.title) == (
        offering.session.title,
        offering.round.title,
    )
    assert copied_reservation.offering.event == copy
    assert copied_reservation.share == 40
    assert (
        copied_reservation.released_at.date()
        == (
            SeatReservation.objects.get(event=event).released_at + datetime.timedelta(weeks=52)
        ).date()
    )
    assert event.offerings.count() == 6  # the original is untouched
    assert copy.is_published is False


def test_summary_counts_what_was_copied_and_lists_what_to_check(event, django_user_model):
    event.introduction = "Op 28 januari 2021 is de Dag van de Buurt."
    event.venue = VenueFactory()
    event.save()
    event.offerings.update(capacity=10)
    for name in ("een", "twee"):
        event.offerings.first().moderators.add(django_user_model.objects.create_user(name))

    copy = copy_as_draft(event)
    summary = copy_summary(copy, event)

    copied = dict(summary.copied)
    assert (
        copied["rondes"],
        copied["sessies"],
        copied["sessies in een ronde (met hun plaatsen en tafels)"],
    ) == (2, 3, 6)
    assert (copied["plaatsen in de sessies samen"], copied["moderatoren van sessies"]) == (60, 2)
    assert "De teksten noemen nog 2021: pas ze aan voor het nieuwe jaar." in summary.to_check
    assert "Is de locatie op de nieuwe datum geboekt?" in summary.to_check
    assert "Controleer de aanmeldperiode: die is met het evenement meeverhuisd." in summary.to_check


# The admin pages


def test_action_leads_to_the_copy_form_with_the_proposal(admin_client, event):
    response = admin_client.post(
        reverse("admin:events_event_changelist"),
        {"action": "duplicate_events", "_selected_action": [event.pk]},
        follow=True,
    )

    form = response.context["form"]
    assert response.redirect_chain[-1][0] == reverse("admin:events_event_copy", args=[event.pk])
    assert (form["start_date"].value(), form["title"].value(), form["slug"].value()) == (
        datetime.date(2022, 1, 27),
        "Dag van de Buurt 2022",
        "dag-van-de-buurt-2022",
    )
    assert Event.objects.count() == 1  # nothing copied before the form is sent


def test_action_on_several_events_asks_for_one(admin_client, event):
    other = build_programme(sessions=0)

    response = admin_client.post(
        reverse("admin:events_event_changelist"),
        {"action": "duplicate_events", "_selected_action": [event.pk, other.pk]},
        follow=True,
    )

    assert "Kies één evenement om voor volgend jaar te kopiëren." in response.content.decode()
    assert Event.objects.count() == 2


def copy_form_data(**changes):
    data = {
        "start_date": "27-01-2022",
        "title": "Dag van de Buurt 2022",
        "slug": "dag-van-de-buurt-2022",
        "registration_opens_at_0": "16-12-2021",
        "registration_opens_at_1": "09:00:00",
        "registration_closes_at_0": "26-01-2022",
        "registration_closes_at_1": "23:59:00",
    }
    return {**data, **changes}


def test_copy_form_saves_what_the_organiser_changed_and_ends_on_the_summary(admin_client, event):
    url = reverse("admin:events_event_copy", args=[event.pk])

    response = admin_client.post(
        url,
        copy_form_data(start_date="03-02-2022", title="Dag van de Wijk 2022", slug="wijkdag-2022"),
        follow=True,
    )

    copy = Event.objects.get(slug="wijkdag-2022")
    assert (copy.title, copy.start_date) == ("Dag van de Wijk 2022", datetime.date(2022, 2, 3))
    # The window was left as proposed, so it moved on with the week-later date.
    assert (copy.registration_opens_at, copy.registration_closes_at) == (
        aware(2021, 12, 23, 9),
        aware(2022, 2, 2, 23, 59),
    )
    content = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(
        reverse("admin:events_event_copied", args=[copy.pk])
    )
    assert "Gekopieerd" in content and "Controleer vóór je publiceert" in content
    assert "<td>6</td>" in content  # offerings


def test_copy_form_refuses_a_window_closing_after_the_start(admin_client, event):
    url = reverse("admin:events_event_copy", args=[event.pk])

    response = admin_client.post(
        url, copy_form_data(registration_closes_at_0="27-01-2022", registration_closes_at_1="14:00")
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "Aanmelden zou sluiten nadat het evenement begint" in content
    assert 'value="27-01-2022"' in content  # what was typed stays
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"slug": "dag-van-de-buurt-2021"},  # taken by the original
        {"start_date": "31-02-2022"},
        {"slug": "geen spaties"},
        {"title": ""},
        {"registration_opens_at_0": "morgen"},
    ],
)
def test_copy_form_with_bad_input_gives_messages_not_a_500(admin_client, event, changes):
    response = admin_client.post(
        reverse("admin:events_event_copy", args=[event.pk]), copy_form_data(**changes)
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    assert Event.objects.count() == 1


def test_only_staff_who_may_add_events_can_copy(client, event):
    viewer = User.objects.create_user("kijker", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(viewer)

    response = client.post(reverse("admin:events_event_copy", args=[event.pk]), copy_form_data())

    assert response.status_code == 403
    assert Event.objects.count() == 1


def test_summary_of_an_event_one_may_not_change_is_refused(client, event):
    viewer = User.objects.create_user("kijker", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(viewer)

    response = client.get(reverse("admin:events_event_copied", args=[event.pk]) + "?van=abc")

    assert response.status_code == 403


def test_copy_pages_queries_do_not_grow_with_the_sessions(
    admin_client, django_assert_max_num_queries
):
    counts = []
    for sessions in (2, 12):
        event = build_programme(sessions=sessions, rounds=2, start_date=datetime.date(2030, 5, 2))
        url = reverse("admin:events_event_copy", args=[event.pk])
        admin_client.get(url)
        with django_assert_max_num_queries(10):
            admin_client.get(url)
        with django_assert_max_num_queries(40):
            response = admin_client.post(
                url,
                {
                    "start_date": "01-05-2031",
                    "title": f"Kopie {sessions}",
                    "slug": f"kopie-{sessions}",
                },
            )
        with django_assert_max_num_queries(20):
            admin_client.get(response.url)
        counts.append(Event.objects.get(slug=f"kopie-{sessions}").offerings.count())
    assert counts == [4, 24]
