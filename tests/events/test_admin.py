import datetime

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from events.models import Event
from registrations import services
from tests.events.test_admin_bad_input import change_form_data
from tests.factories import EventFactory, RoundFactory, SessionFactory, person

pytestmark = pytest.mark.django_db

REGISTERED = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_admin_changelist_and_add_load_for_superuser(
    admin_client, programme, app_label, model_name
):
    changelist = admin_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    add = admin_client.get(reverse(f"admin:{app_label}_{model_name}_add"))

    assert changelist.status_code == 200
    assert b'id="changelist"' in changelist.content
    # Allocation runs are drawn from the event list and registrations made on the site,
    # never added by hand (that would bypass the seat rules); e-mails are queued by them.
    if (app_label, model_name) in {
        ("registrations", "allocationrun"),
        ("registrations", "registration"),
        ("registrations", "queuedemail"),
    }:
        assert add.status_code == 403
    else:
        assert add.status_code == 200
        assert b"<form" in add.content


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_admin_change_page_loads_for_superuser(admin_client, programme, app_label, model_name):
    model = apps.get_model(app_label, model_name)
    obj = model.objects.first()
    assert obj is not None, f"no {model_name} in the test data"

    response = admin_client.get(reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk]))

    assert response.status_code == 200
    assert (
        str(obj).encode() in response.content or obj._meta.verbose_name.encode() in response.content
    )


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_admin_search_works_on_every_list(admin_client, programme, app_label, model_name):
    response = admin_client.get(
        reverse(f"admin:{app_label}_{model_name}_changelist"), {"q": "Ronde"}
    )

    assert response.status_code == 200
    assert b'id="searchbar"' in response.content


def test_admin_event_page_has_programme_inlines_and_view_on_site(admin_client, programme):
    response = admin_client.get(reverse("admin:events_event_change", args=[programme.pk]))

    content = response.content.decode()
    for prefix in ["roles", "programme_blocks", "rounds", "seat_reservations"]:
        assert f'id="{prefix}-group"' in content
    content_type = ContentType.objects.get_for_model(Event)
    assert reverse("admin:view_on_site", args=[content_type.pk, programme.pk]) in content


def test_event_page_leaves_sessions_to_the_programme_editor_and_says_so(admin_client, programme):
    response = admin_client.get(reverse("admin:events_event_change", args=[programme.pk]))

    content = response.content.decode()
    for prefix in ["sessions", "offerings"]:
        assert f'id="{prefix}-group"' not in content
    editor = reverse("admin:events_event_programme", args=[programme.pk])
    assert (
        "Sessies, hun sessieleiders en de rondes waarin ze lopen bewerkt u in de "
        f'<a href="{editor}">programma-editor</a>.'
    ) in content


def test_new_event_page_says_the_programme_editor_opens_after_saving(admin_client):
    response = admin_client.get(reverse("admin:events_event_add"))

    assert "Na het opslaan opent de programma-editor" in response.content.decode()


def new_event_data(admin_client, title, button):
    """The add form as the browser sends it, filled in, with the button pressed."""
    data = change_form_data(admin_client.get(reverse("admin:events_event_add")))
    data.update({"title": title, "slug": title.lower(), "start_date": "12-09-2026", button: "1"})
    return data


@pytest.mark.parametrize(
    ("button", "goes_to"),
    [
        ("_save", "admin:events_event_programme"),
        ("_continue", "admin:events_event_change"),
        ("_addanother", "admin:events_event_add"),
    ],
)
def test_saving_a_new_event_opens_the_programme_editor_unless_asked_otherwise(
    admin_client, button, goes_to
):
    response = admin_client.post(
        reverse("admin:events_event_add"), new_event_data(admin_client, "Buurtdag", button)
    )

    event = Event.objects.get(title="Buurtdag")
    args = [] if goes_to.endswith("_add") else [event.pk]
    assert response.status_code == 302
    assert response["Location"] == reverse(goes_to, args=args)
    assert admin_client.get(response["Location"]).status_code == 200


def test_admin_duplicate_action_copies_event_as_draft(admin_client, programme):
    programme.start_date = datetime.date(2026, 3, 3)
    programme.save()

    response = admin_client.post(
        reverse("admin:events_event_changelist"),
        {"action": "duplicate_events", "_selected_action": [programme.pk]},
        follow=True,
    )
    form = response.context["form"]
    admin_client.post(
        reverse("admin:events_event_copy", args=[programme.pk]),
        {"start_date": "02-03-2027", "title": form["title"].value(), "slug": "kopie"},
    )

    copy = Event.objects.exclude(pk=programme.pk).get()
    assert copy.is_published is False
    assert copy.start_date == datetime.date(2027, 3, 2)  # a Tuesday stays a Tuesday
    assert copy.offerings.count() == programme.offerings.count() == 6
    assert copy.sessions.count() == 3


def session_form_data(session, round_, **overrides):
    """A valid POST to a session's admin page that adds it to `round_`."""
    data = {
        "event": session.event_id,
        "title": session.title,
        "slug": session.slug,
        "theme": "",
        "summary": "",
        "description": "",
        "order": 0,
        "roles-TOTAL_FORMS": 0,
        "roles-INITIAL_FORMS": 0,
        "offerings-TOTAL_FORMS": 1,
        "offerings-INITIAL_FORMS": 0,
        "offerings-0-round": round_.pk,
        "offerings-0-capacity": 20,
        "offerings-0-location": "Tafel 4",
        "offerings-0-order": 0,
    }
    return {**data, **overrides}


def test_admin_adds_offering_inline_for_event_sessions(admin_client):
    session = SessionFactory()
    event = session.event
    first_round = RoundFactory(event=event, title="Ronde 1")
    RoundFactory(title="Ronde elders")  # another event's round must not be offered
    url = reverse("admin:events_session_change", args=[session.pk])
    page = admin_client.get(url)
    round_choices = page.context["inline_admin_formsets"][1].formset.empty_form.fields["round"]

    response = admin_client.post(url, session_form_data(session, first_round))

    assert list(round_choices.queryset) == [first_round]
    assert response.status_code == 302
    assert list(session.offerings.values_list("round__title", "event", "capacity", "location")) == [
        ("Ronde 1", event.pk, 20, "Tafel 4")
    ]


def test_admin_forms_drop_control_characters(admin_client):
    session = SessionFactory()
    first_round = RoundFactory(event=session.event)
    data = session_form_data(
        session,
        first_round,
        title="=Jongeren\x0bin de wijk\x1b",
        description="Eerste regel\x0btweede\r\nderde\x00",
        **{"offerings-0-location": "Tafel\x0c4"},
    )

    response = admin_client.post(reverse("admin:events_session_change", args=[session.pk]), data)

    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.title, session.description) == (
        "=Jongeren in de wijk",
        "Eerste regel\ntweede\r\nderde",
    )
    assert session.offerings.get().location == "Tafel 4"


def test_view_only_staff_cannot_duplicate_or_draw(client):
    event = EventFactory()
    user = User.objects.create_user("kijker", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_event"))
    client.force_login(user)

    for action in ["duplicate_events", "draw_lottery"]:
        client.post(
            reverse("admin:events_event_changelist"),
            {"action": action, "_selected_action": [event.pk]},
        )

    assert Event.objects.count() == 1
    assert event.allocation_runs.count() == 0


def test_capacity_raised_on_the_session_page_moves_people_up(one_seat_event, admin_client):
    event, offering = one_seat_event
    services.register_attendee(event, person=person(1), offering_ids=[offering.pk])
    waiting = services.register_attendee(event, person=person(2), offering_ids=[offering.pk])
    session = offering.session

    admin_client.post(
        reverse("admin:events_session_change", args=[session.pk]),
        session_form_data(
            session,
            offering.round,
            **{
                "offerings-INITIAL_FORMS": 1,
                "offerings-0-id": offering.pk,
                "offerings-0-session": session.pk,
                "offerings-0-capacity": 2,
                "offerings-0-location": "",
            },
        ),
    )

    assert waiting.registration.choices.get().status == "confirmed"


def test_admin_sets_a_session_across_rounds_and_refuses_an_earlier_last_round(admin_client):
    session = SessionFactory()
    event = session.event
    first, second = (
        RoundFactory(event=event, title=f"Ronde {n}", starts_at=datetime.time(13 + n, 0))
        for n in (1, 2)
    )
    url = reverse("admin:events_session_change", args=[session.pk])
    page = admin_client.get(url)
    last_choices = page.context["inline_admin_formsets"][1].formset.empty_form.fields["last_round"]

    refused = admin_client.post(
        url, session_form_data(session, second, **{"offerings-0-last_round": first.pk})
    )
    accepted = admin_client.post(
        url, session_form_data(session, first, **{"offerings-0-last_round": second.pk})
    )

    assert set(last_choices.queryset) == {first, second}
    assert refused.status_code == 200
    assert "Kies een latere ronde op dezelfde dag." in refused.content.decode()
    assert accepted.status_code == 302
    offering = session.offerings.get()
    assert (offering.round, offering.last_round) == (first, second)
