"""Pages with personal data: kept by no browser or proxy, and no more shown than needed."""

import pytest
from django.urls import reverse

from registrations import services
from registrations import urls as registration_urls
from tests.factories import (
    EventFactory,
    SeriesFactory,
    build_programme,
    offerings_by_round,
    registration_form_data,
)

pytestmark = pytest.mark.django_db

# The registrations app's pages that show no personal data: the forms (unless sent back
# with what the visitor typed) and the privacy statement.
PUBLIC = {"create", "series", "privacy"}


@pytest.fixture
def setup(moderator, organiser):
    event = build_programme(sessions=2, rounds=2, capacity=100)
    offering = offerings_by_round(event)[0][0]
    registration = services.register_attendee(
        event,
        person=services.Person(
            name="Jos van der Lans",
            email="jos@example.nl",
            role="resident",
            organisation="Buurtvereniging De Peperhoek",
        ),
        offering_ids=[offering.pk],
    ).registration
    offering.moderators.add(moderator)
    return {
        "event": event,
        "offering": offering,
        "registration": registration,
        "users": {"moderator": moderator, "organiser": organiser},
    }


def _registered(client, event):
    """The confirmation page's address, after a registration through the form."""
    response = client.post(
        reverse("registrations:create", args=[event.slug]),
        registration_form_data(event, email="anna@example.nl"),
    )
    assert response.status_code == 302
    return response["Location"]


# Each page: who asks (None: anonymously), its URL name and arguments; the names of setup
# entries stand for their token (a registration) or primary key.
PAGES = {
    "manage": (None, "registrations:manage", ["registration"]),
    "cancel": (None, "registrations:cancel", ["registration"]),
    "done": (None, None, []),  # reached by registering
    "my_sessions": ("moderator", "registrations:my_sessions", []),
    "offering_attendees": ("moderator", "registrations:offering_attendees", ["offering"]),
    "offering_export csv": ("moderator", "registrations:offering_export", ["offering", "csv"]),
    "offering_export xlsx": ("moderator", "registrations:offering_export", ["offering", "xlsx"]),
    "offering_checkin": ("moderator", "registrations:offering_checkin", ["offering"]),
    "offering_cue_card": ("moderator", "registrations:offering_cue_card", ["offering"]),
    "event_attendees": ("organiser", "registrations:event_attendees", ["event"]),
    "event_export csv": ("organiser", "registrations:event_export", ["event", "csv"]),
    "event_export xlsx": ("organiser", "registrations:event_export", ["event", "xlsx"]),
    "event_checkin": ("organiser", "registrations:event_checkin", ["event"]),
    "event_overview": ("organiser", "registrations:event_overview", ["event"]),
    "event_registrations_csv": ("organiser", "registrations:event_registrations_csv", ["event"]),
    "password_change": ("moderator", "password_change", []),
    "password_change_done": ("moderator", "password_change_done", []),
    "login": (None, "login", []),
    "admin": ("organiser", "admin:index", []),
}


def _url(setup, client, page):
    _who, name, args = PAGES[page]
    if name is None:
        return _registered(client, setup["event"])
    objects = {"registration": setup["registration"].token}
    objects.update({key: setup[key].pk for key in ("event", "offering")})
    return reverse(name, args=[objects.get(arg, arg) for arg in args])


@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_with_personal_data_may_be_kept_by_no_browser_or_proxy(client, setup, page):
    who = PAGES[page][0]
    if who:
        client.force_login(setup["users"][who])

    response = client.get(_url(setup, client, page))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_every_page_of_the_registrations_app_with_personal_data_is_tested():
    names = {pattern.name for pattern in registration_urls.urlpatterns}

    assert names - PUBLIC == {page.split()[0] for page in PAGES} & names


def test_check_in_answers_may_be_kept_by_no_one_either(client, setup):
    client.force_login(setup["users"]["moderator"])
    choice = setup["registration"].choices.get()
    url = reverse("registrations:offering_checkin", args=[setup["offering"].pk])

    response = client.post(
        url, {"pk": choice.pk, "present": "1"}, headers={"accept": "application/json"}
    )

    assert response.json() == {"pk": choice.pk, "present": True}
    assert "no-store" in response["Cache-Control"]


def test_a_registration_form_sent_back_with_errors_may_not_be_kept(client, setup):
    event = setup["event"]

    response = client.post(
        reverse("registrations:create", args=[event.slug]),
        registration_form_data(event, email="geen-adres"),
    )

    assert response.status_code == 400
    assert "Anna de Vries" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_a_series_form_sent_back_with_errors_may_not_be_kept(client):
    series = SeriesFactory()
    EventFactory(series=series)

    response = client.post(
        reverse("registrations:series", args=[series.slug]),
        {"name": "Sam de Wit", "email": "sam@example.nl", "role": "professional"},
    )

    assert response.status_code == 400
    assert "Sam de Wit" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_the_public_registration_form_stays_cacheable(client, setup):
    response = client.get(reverse("registrations:create", args=[setup["event"].slug]))

    assert response.status_code == 200
    assert "Cache-Control" not in response


# ------------------------------------------------------------- a cancelled registration


def _cancelled(setup):
    registration = setup["registration"]
    services.cancel_registration(registration)
    return registration


def test_a_cancelled_registrations_link_shows_only_the_event_and_the_cancellation(client, setup):
    registration = _cancelled(setup)
    event = setup["event"]

    response = client.get(registration.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert event.title in html
    assert "Deze aanmelding is geannuleerd." in html
    for personal in ["Jos van der Lans", "jos@example.nl", "Buurtvereniging De Peperhoek"]:
        assert personal not in html
    assert setup["offering"].session.title not in html  # nor the choices
    assert reverse("registrations:create", args=[event.slug]) in html
    assert "Opnieuw aanmelden" in html


def test_a_cancelled_registration_closed_for_registration_offers_no_new_one(client, setup):
    registration = _cancelled(setup)
    event = setup["event"]
    event.registration_enabled = False
    event.save()

    html = client.get(registration.get_absolute_url()).content.decode()

    assert "Deze aanmelding is geannuleerd." in html
    assert reverse("registrations:create", args=[event.slug]) not in html
    assert event.get_absolute_url() in html


def test_a_cancelled_registration_changes_nothing_on_a_post(client, setup):
    registration = _cancelled(setup)

    response = client.post(registration.get_absolute_url(), {})

    assert response.status_code == 409
    assert "Jos van der Lans" not in response.content.decode()


def test_the_cancel_link_of_a_cancelled_registration_shows_the_cancelled_page(client, setup):
    registration = _cancelled(setup)
    event = setup["event"]
    cancel_url = reverse("registrations:cancel", args=[registration.token])

    response = client.get(cancel_url, follow=True)

    html = response.content.decode()
    assert response.redirect_chain == [(registration.get_absolute_url(), 302)]
    assert "Je aanmelding annuleren" not in html
    assert "Deze aanmelding is geannuleerd." in html
    assert "Opnieuw aanmelden" in html
    assert reverse("registrations:create", args=[event.slug]) in html
    for personal in ["Jos van der Lans", "jos@example.nl", "Buurtvereniging De Peperhoek"]:
        assert personal not in html


def test_cancelling_twice_sends_one_e_mail_and_shows_the_cancelled_page(client, setup, mailoutbox):
    registration = setup["registration"]
    cancel_url = reverse("registrations:cancel", args=[registration.token])
    client.post(cancel_url)
    mailoutbox.clear()

    response = client.post(cancel_url, follow=True)

    assert mailoutbox == []
    assert "Opnieuw aanmelden" in response.content.decode()


def test_the_cancel_link_of_a_registration_cancelled_before_its_event_passed(client, setup):
    registration = _cancelled(setup)
    event = setup["event"]
    event.start_date = event.start_date.replace(year=2000)
    event.end_date = None
    event.save()

    html = client.get(
        reverse("registrations:cancel", args=[registration.token]), follow=True
    ).content.decode()

    assert "Deze aanmelding is geannuleerd." in html
    assert "kan niet meer worden geannuleerd" not in html
