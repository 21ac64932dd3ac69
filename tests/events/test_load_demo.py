import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from registrations.availability import registration_state

pytestmark = pytest.mark.django_db


def test_load_demo_loads_seeds_and_open_upcoming_copies():
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)  # safe to run again

    demo = Event.objects.filter(slug__startswith="demo-").order_by("start_date")
    assert Event.objects.exclude(slug__startswith="demo-").count() == 16
    assert [event.slug for event in demo] == [
        "demo-dag-van-de-buurt",
        "demo-dag-van-de-buurt-voorkeuren",
        "demo-werken-in-de-wijk",
        "demo-wijkcongres-met-excursie",
        "demo-estafette-leeuwarden",
        "demo-estafette-amersfoort",
    ]
    assert [registration_state(event) for event in demo] == [
        "open",
        "preferences",
        "open",
        "open",
        "open",
        "open",
    ]
    assert all(event.start_date > timezone.localdate() for event in demo)
    dag = demo.get(slug="demo-dag-van-de-buurt")
    assert dag.offerings.count() == 26
    assert dag.title == "Dag van de Buurt (demo)"
    assert demo.get(slug="demo-estafette-leeuwarden").series.slug == (
        "estafette-vernieuwing-lokaal-bestuur"
    )


def test_series_page_links_to_series_registration_when_demo_is_open(client):
    call_command("load_demo", verbosity=0)

    content = client.get("/reeksen/estafette-vernieuwing-lokaal-bestuur/").content.decode()
    form = client.get("/reeksen/estafette-vernieuwing-lokaal-bestuur/aanmelden/").content.decode()

    assert "/reeksen/estafette-vernieuwing-lokaal-bestuur/aanmelden/" in content
    assert "Samenwerken in het sociaal domein (demo)" in form
    assert "Draagvlak voor de energietransitie (demo)" in form


def test_load_demo_runs_again_after_someone_registered():
    from registrations import services

    call_command("load_demo", verbosity=0)
    services.register_attendee(
        Event.objects.get(slug="demo-dag-van-de-buurt"),
        person=services.Person(name="Anna", email="anna@example.nl", role="resident"),
    )

    call_command("load_demo", verbosity=0)

    assert Event.objects.get(slug="demo-dag-van-de-buurt").registrations.count() == 0


def test_load_demo_has_an_excursion_across_rounds_and_overlapping_rounds(client):
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)  # replaced, not doubled

    event = Event.objects.get(slug="demo-wijkcongres-met-excursie")
    [excursion] = event.offerings.filter(last_round__isnull=False)
    assert (excursion.round.title, excursion.last_round.title) == ("Ronde 1", "Ronde 2")
    assert (excursion.starts_at.strftime("%H:%M"), excursion.ends_at.strftime("%H:%M")) == (
        "13:20",
        "15:30",
    )
    second, deeper = event.rounds.get(title="Ronde 2"), event.rounds.get(title="Verdiepingsronde")
    assert deeper.starts_at < second.ends_at  # the rounds overlap
    assert event.clashes() and registration_state(event) == "open"
    page = client.get(event.get_absolute_url()).content.decode()
    assert "<time>13:20</time> – <time>15:30</time> (tot het einde van Ronde 2)" in page
    assert "Loopt door: Excursie: buurtinitiatieven te voet (Ronde 1), tot 15:30" in page
    assert excursion.session.kind.code == "excursion"
    assert set(event.sessions.values_list("kind__code", flat=True)) == {
        "excursion",
        "workshop",
        "table_session",
        "practice_session",
    }
    form = client.get(reverse("registrations:create", args=[event.slug])).content.decode()
    assert "Deze ronde overlapt in tijd met Verdiepingsronde." in form


def test_a_demo_event_has_session_kinds_to_filter_by(client):
    call_command("load_demo", verbosity=0)
    dag = Event.objects.get(slug="demo-dag-van-de-buurt")

    kinds = dict(dag.sessions.values_list("slug", "kind__code"))
    assert kinds["buurtagenda-in-een-uur"] == "workshop"
    assert kinds["vastgoed-voor-de-buurt"] == "table_session"
    assert (
        Event.objects.get(slug="dag-van-de-buurt-2021").sessions.filter(kind__isnull=False).count()
        == 0
    )
    content = client.get(dag.get_absolute_url(), {"kind": "round_table"}).content.decode()
    assert "3 sessies getoond" in content  # three round tables
