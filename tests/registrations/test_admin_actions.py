import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.urls import reverse

from registrations import services
from registrations.admin import OfferingListFilter
from registrations.models import Registration
from tests.factories import build_programme, offerings_by_round, person

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:registrations_registration_changelist")


def run_action(admin_client, action, registrations):
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [registration.pk for registration in registrations]},
        follow=True,
    )


def shown_messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def shown_names(response):
    return sorted(registration.name for registration in response.context["cl"].result_list)


def offering_filters(response):
    return [
        spec for spec in response.context["cl"].filter_specs if isinstance(spec, OfferingListFilter)
    ]


def register(event, person, offerings=()):
    return services.register_attendee(
        event, person=person, offering_ids=[offering.pk for offering in offerings]
    ).registration


def test_cancel_action_cancels_and_moves_the_first_waiting_person_up(
    admin_client, event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    event.capacity = 1
    event.save()
    anna = register(event, person_factory(name="Anna", email="anna@example.nl"))
    bram = register(event, person_factory(name="Bram", email="bram@example.nl"))

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "cancel_registrations", [anna])

    anna.refresh_from_db()
    bram.refresh_from_db()
    assert (anna.status, bram.status) == ("cancelled", "confirmed")
    assert [(message.to, message.subject) for message in mailoutbox] == [
        (["anna@example.nl"], f"Geannuleerd: je aanmelding voor {event.title}"),
        (["bram@example.nl"], f"Er is een plek vrijgekomen: {event.title}"),
    ]
    assert shown_messages(response) == [
        "1 aanmelding geannuleerd; de persoon heeft een e-mail gekregen.",
        "1 persoon is van de wachtlijst doorgeschoven en heeft een e-mail gekregen.",
    ]


def test_cancel_action_leaves_cancelled_registrations_alone(
    admin_client, event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    anna = register(event, person_factory(name="Anna"))
    services.cancel_registration(anna)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "cancel_registrations", [anna])

    assert mailoutbox == []
    assert shown_messages(response) == ["De geselecteerde aanmeldingen waren al geannuleerd."]


def test_move_up_action_confirms_registration_and_choices_beyond_capacity(
    admin_client, event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    event.capacity = 1
    event.save()
    offering = offerings_by_round(event)[0][0]
    offering.capacity = 1
    offering.save()
    anna = register(event, person_factory(name="Anna"), [offering])
    bram = register(event, person_factory(name="Bram", email="bram@example.nl"), [offering])

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "move_up_registrations", [anna, bram])

    bram.refresh_from_db()
    assert bram.status == "confirmed"
    assert [choice.status for choice in bram.choices.all()] == ["confirmed"]
    assert event.registrations.confirmed().count() == 2
    assert offering.choices.confirmed().count() == 2
    assert [(message.to, message.subject) for message in mailoutbox] == [
        (["bram@example.nl"], f"Er is een plek vrijgekomen: {event.title}")
    ]
    assert shown_messages(response) == [
        "1 aanmelding is van de wachtlijst doorgeschoven en heeft een e-mail gekregen. "
        "Het evenement of een sessie kan nu meer deelnemers hebben dan plekken."
    ]


def test_move_up_action_without_waiting_registrations_changes_nothing(
    admin_client, event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    anna = register(event, person_factory(name="Anna"))
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "move_up_registrations", [anna])

    anna.refresh_from_db()
    assert anna.status == "confirmed"
    assert mailoutbox == []
    assert shown_messages(response) == [
        "Geen van de geselecteerde aanmeldingen staat op de wachtlijst."
    ]


def test_move_up_service_is_a_no_op_for_a_confirmed_registration(
    event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    anna = register(event, person_factory(name="Anna"))
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.move_up(anna)

    assert (outcome.registration.status, outcome.promoted) == ("confirmed", [])
    assert mailoutbox == []


def test_resend_action_mails_active_registrations_only(
    admin_client, event, person_factory, django_capture_on_commit_callbacks, mailoutbox
):
    event.capacity = 1
    event.save()
    anna = register(event, person_factory(name="Anna", email="anna@example.nl"))
    bram = register(event, person_factory(name="Bram", email="bram@example.nl"))
    cees = register(event, person_factory(name="Cees", email="cees@example.nl"))
    services.cancel_registration(cees)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "resend_confirmations", [anna, bram, cees])

    assert sorted((message.to[0], message.subject) for message in mailoutbox) == [
        ("anna@example.nl", f"Je aanmelding voor {event.title}"),
        ("bram@example.nl", f"Je aanmelding voor {event.title}"),
    ]
    assert shown_messages(response) == [
        "Bevestigingsmail opnieuw verstuurd naar 2 aanmeldingen.",
        "1 geannuleerde aanmelding is overgeslagen.",
    ]


def test_actions_are_listed_in_dutch(admin_client):
    response = admin_client.get(CHANGELIST)

    choices = [label for _, label in response.context["action_form"].fields["action"].choices]
    assert choices == [
        "---------",
        "Geselecteerde aanmeldingen verwijderen",
        "Geselecteerde aanmeldingen annuleren",
        "Geselecteerde aanmeldingen van de wachtlijst laten doorschuiven",
        "Bevestigingsmail opnieuw versturen",
    ]


@pytest.fixture
def two_events(event, person_factory):
    """Anna and Bram in the fixture event, Cees in another; Bram on a waiting list."""
    other = build_programme(sessions=1, rounds=1, title="Andere bijeenkomst")
    first_round, second_round = offerings_by_round(event)
    register(
        event,
        person_factory(name="Anna", email="anna@example.nl", organisation="Wijkteam Oost"),
        [first_round[0], second_round[1]],
    )
    bram = register(
        event,
        person_factory(name="Bram", email="bram@example.nl", role="civil_servant"),
        [first_round[1]],
    )
    bram.status = Registration.Status.WAITING
    bram.save()
    register(
        other, person_factory(name="Cees", email="cees@example.nl"), offerings_by_round(other)[0]
    )
    return event, other


def test_event_filter_shows_that_events_registrations(admin_client, two_events):
    event, other = two_events

    response = admin_client.get(CHANGELIST, {"event__id__exact": other.pk})

    assert shown_names(response) == ["Cees"]


def test_offering_filter_shows_the_people_in_that_session(admin_client, two_events):
    event, _ = two_events
    offering = offerings_by_round(event)[0][0]

    response = admin_client.get(CHANGELIST, {"offering": offering.pk})

    assert shown_names(response) == ["Anna"]


def test_offering_filter_leaves_out_a_session_someone_left(
    admin_client, two_events, person_factory
):
    event, _ = two_events
    first_round, second_round = offerings_by_round(event)
    anna = Registration.objects.get(name="Anna")
    services.change_choices(anna, offering_ids=[first_round[2].pk, second_round[1].pk])

    response = admin_client.get(CHANGELIST, {"offering": first_round[0].pk})

    assert shown_names(response) == []


def test_offering_filter_still_finds_cancelled_registrations(admin_client, two_events):
    event, _ = two_events
    services.cancel_registration(Registration.objects.get(name="Anna"))

    response = admin_client.get(
        CHANGELIST, {"offering": offerings_by_round(event)[0][0].pk, "status__exact": "cancelled"}
    )

    assert shown_names(response) == ["Anna"]


def test_offering_filter_lists_only_chosen_sessions_labelled_session(admin_client, two_events):
    event, other = two_events
    first_round, second_round = offerings_by_round(event)
    [other_offering] = offerings_by_round(other)[0]

    response = admin_client.get(CHANGELIST, {"event__id__exact": event.pk})
    everything = admin_client.get(CHANGELIST)

    [offering_filter] = offering_filters(response)
    assert str(offering_filter.title) == "sessie"
    assert offering_filter.lookup_choices == [
        (str(first_round[0].pk), str(first_round[0])),
        (str(first_round[1].pk), str(first_round[1])),
        (str(second_round[1].pk), str(second_round[1])),
    ]
    [offering_filter] = offering_filters(everything)
    assert offering_filter.lookup_choices == [
        (str(first_round[0].pk), f"{event.title}: {first_round[0]}"),
        (str(first_round[1].pk), f"{event.title}: {first_round[1]}"),
        (str(second_round[1].pk), f"{event.title}: {second_round[1]}"),
        (str(other_offering.pk), f"Andere bijeenkomst: {other_offering}"),
    ]


def test_status_and_role_filters(admin_client, two_events):
    waiting = admin_client.get(CHANGELIST, {"status__exact": "waiting"})
    civil_servants = admin_client.get(CHANGELIST, {"role__exact": "civil_servant"})

    assert shown_names(waiting) == ["Bram"]
    assert shown_names(civil_servants) == ["Bram"]


@pytest.mark.parametrize(
    ("query", "names"),
    [("anna@example", ["Anna"]), ("Wijkteam", ["Anna"]), ("cees", ["Cees"]), ("nobody", [])],
)
def test_search_on_name_email_and_organisation(admin_client, two_events, query, names):
    response = admin_client.get(CHANGELIST, {"q": query})

    assert shown_names(response) == names


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:registrations_registration_changelist"),
        reverse("admin:registrations_mailing_changelist"),
        reverse("admin:registrations_mailing_add"),
    ],
)
def test_staff_without_registration_permissions_is_refused(client, django_user_model, url):
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client.force_login(staff)

    response = client.get(url)

    assert response.status_code == 403


def test_saving_a_registration_in_the_admin_drops_control_characters(
    admin_client, event, person_factory
):
    registration = register(event, person_factory())
    # Stored before the forms dropped them: a vertical tab (Word's Shift+Enter) and ESC.
    Registration.objects.filter(pk=registration.pk).update(
        name="Anna\x0bde Boer", question="Hoe\x0bdan?\x1b"
    )
    url = reverse("admin:registrations_registration_change", args=[registration.pk])
    page = admin_client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update(
            {management[name].html_name: management[name].value() for name in management.fields}
        )

    response = admin_client.post(url, data)

    assert response.status_code == 302
    registration.refresh_from_db()
    assert (registration.name, registration.question) == ("Anna de Boer", "Hoe\ndan?")


def test_registration_admin_never_shows_the_personal_link_code(admin_client, event, person_factory):
    anna = register(event, person_factory(name="Anna"), offerings_by_round(event)[0][:1])
    change_url = reverse("admin:registrations_registration_change", args=[anna.pk])
    content_type = ContentType.objects.get_for_model(Registration)

    pages = {
        "list": admin_client.get(CHANGELIST),
        "change": admin_client.get(change_url),
        "history": admin_client.get(
            reverse("admin:registrations_registration_history", args=[anna.pk])
        ),
    }
    search = admin_client.get(CHANGELIST, {"q": anna.token})

    assert {name: anna.token in page.content.decode() for name, page in pages.items()} == {
        "list": False,
        "change": False,
        "history": False,
    }
    assert "token" not in pages["change"].context["adminform"].form.fields
    assert search.context["cl"].result_count == 0
    # "View on site" would redirect to the personal page, and so show its address.
    view_on_site = reverse("admin:view_on_site", args=[content_type.pk, anna.pk])
    assert view_on_site not in pages["change"].content.decode()
    assert admin_client.get(view_on_site).status_code == 404
    event_type = ContentType.objects.get_for_model(event)
    event_on_site = admin_client.get(reverse("admin:view_on_site", args=[event_type.pk, event.pk]))
    assert event_on_site["Location"].endswith(event.get_absolute_url())  # other models keep it


def test_admin_cannot_edit_seats_directly(one_seat_event, admin_client):
    event, offering = one_seat_event
    registration = services.register_attendee(
        event, person=person(1), offering_ids=[offering.pk]
    ).registration

    page = admin_client.get(
        reverse("admin:registrations_registration_change", args=[registration.pk])
    )

    form = page.context["adminform"].form
    assert "status" not in form.fields
    assert "event" not in form.fields


def test_deleting_a_registration_in_the_admin_moves_the_next_up(one_seat_event, admin_client):
    event, offering = one_seat_event
    first = services.register_attendee(event, person=person(1), offering_ids=[offering.pk])
    second = services.register_attendee(event, person=person(2), offering_ids=[offering.pk])

    admin_client.post(
        reverse("admin:registrations_registration_delete", args=[first.registration.pk]),
        {"post": "yes"},
    )

    assert second.registration.choices.get().status == "confirmed"
