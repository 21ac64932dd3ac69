"""Preference mode: rank sessions, draw a fair lottery, confirm, then first come."""

import datetime
import random

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from events.models import Event
from events.services import copy_as_draft
from registrations import services
from registrations.availability import registration_state
from registrations.models import AllocationRun, QueuedEmail, SessionChoice
from tests.factories import build_programme, offerings_by_round, reserve_seats

pytestmark = pytest.mark.django_db


def person(number, role="resident"):
    return services.Person(name=f"Deelnemer {number}", email=f"d{number}@example.nl", role=role)


@pytest.fixture
def event(db):
    event = build_programme(sessions=3, rounds=2, speakers_per_session=0, event_speakers=0)
    event.allocation_mode = Event.AllocationMode.PREFERENCE
    event.preferences_close_at = timezone.now() + datetime.timedelta(days=1)
    event.save()
    for offering in event.offerings.all():
        offering.capacity = 2
        offering.save()
    return event


def close_preferences(event):
    event.preferences_close_at = timezone.now() - datetime.timedelta(minutes=1)
    event.save()


def rank_all(event, count):
    """`count` people who all rank the sessions in the same order in every round."""
    rounds = offerings_by_round(event)
    for number in range(count):
        services.register_preferences(
            event,
            person=person(number),
            preferences={offerings[0].round_id: [o.pk for o in offerings] for offerings in rounds},
        )


def test_preferences_are_stored_and_mailed_without_claiming_seats(
    event, django_capture_on_commit_callbacks, mailoutbox
):
    first_round, second_round = offerings_by_round(event)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.register_preferences(
            event,
            person=person(1),
            preferences={first_round[0].round_id: [first_round[2].pk, first_round[0].pk]},
        )

    registration = outcome.registration
    assert list(registration.preferences.values_list("offering", "rank")) == [
        (first_round[2].pk, 1),
        (first_round[0].pk, 2),
    ]
    assert registration.choices.count() == 0
    [message] = mailoutbox
    assert "Je voorkeuren" in message.body
    assert "eerlijk" in message.body


def test_repeated_preferences_queue_the_link_once_per_quarter_hour(event):
    first_round = offerings_by_round(event)[0]
    ranking = {first_round[0].round_id: [first_round[0].pk]}
    for _ in range(5):
        services.register_preferences(event, person=person(1), preferences=ranking)
    links = QueuedEmail.objects.filter(kind="link")
    assert links.count() == 1

    links.update(created_at=timezone.now() - datetime.timedelta(minutes=16))
    services.register_preferences(event, person=person(1), preferences=ranking)

    assert links.count() == 2


def test_first_come_registration_is_refused_during_preference_period(event):
    with pytest.raises(ValidationError) as excinfo:
        services.register_attendee(event, person=person(1))

    assert excinfo.value.code == "preferences"


@pytest.mark.parametrize(
    "ranking",
    [lambda r: [r[0].pk, r[0].pk], lambda r: [r[0].pk, r[1].pk, r[2].pk, r[0].pk]],
)
def test_bad_rankings_are_refused(event, ranking):
    first_round, _ = offerings_by_round(event)

    with pytest.raises(ValidationError) as excinfo:
        services.register_preferences(
            event, person=person(1), preferences={first_round[0].round_id: ranking(first_round)}
        )

    assert excinfo.value.code == "bad_ranking"


def test_offering_of_another_round_is_refused(event):
    first_round, second_round = offerings_by_round(event)

    with pytest.raises(ValidationError) as excinfo:
        services.register_preferences(
            event, person=person(1), preferences={first_round[0].round_id: [second_round[0].pk]}
        )

    assert excinfo.value.code == "invalid_choice"


def test_allocation_waits_for_the_deadline(event):
    rank_all(event, 3)

    with pytest.raises(ValidationError) as excinfo:
        services.run_allocation(event)

    assert excinfo.value.code == "too_early"
    assert registration_state(event) == "preferences"


def test_run_is_a_preview_until_confirmed(event):
    rank_all(event, 8)
    close_preferences(event)

    run = services.run_allocation(event, seed=7)

    assert registration_state(event) == "allocating"
    assert SessionChoice.objects.count() == 0
    first_round_id = str(offerings_by_round(event)[0][0].round_id)
    # 8 people, three sessions of two seats: 2 first, 2 second, 2 third choices, 2 unplaced.
    assert run.summary["rounds"][first_round_id] == {
        "first": 2,
        "second": 2,
        "third": 2,
        "unplaced": 2,
    }


def test_same_seed_reproduces_and_new_seed_redraws(event):
    rank_all(event, 8)
    close_preferences(event)

    first = services.run_allocation(event, seed=11)
    again = services.run_allocation(event, seed=11)
    other = services.run_allocation(event, seed=12)

    assert first.result == again.result
    assert first.result["lottery"] != other.result["lottery"]


def test_confirm_assigns_seats_queues_the_rest_and_mails_everyone(
    event, django_capture_on_commit_callbacks, mailoutbox
):
    rank_all(event, 8)
    close_preferences(event)
    run = services.run_allocation(event, seed=3)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        mailed = services.confirm_allocation(run)

    event.refresh_from_db()
    assert len(mailed) == 8
    assert len(mailoutbox) == 8
    assert all("De plekken voor" in message.body for message in mailoutbox)
    for offering in event.offerings.all():
        assert offering.choices.confirmed().count() == 2
    # Per round, the two unplaced queue for the best session they may still take
    # (not one they hold in the other round), each queue in lottery order.
    lottery = run.result["lottery"]
    for offerings in offerings_by_round(event):
        queues = [
            list(offering.choices.waiting().values_list("registration_id", flat=True))
            for offering in offerings
        ]
        assert all(queue == [pid for pid in lottery if pid in queue] for queue in queues)
        assert sum(len(queue) for queue in queues) == 2
    assert registration_state(event) == "open"
    assert event.allocated_at is not None


def test_nobody_gets_the_same_session_twice(event):
    # Everyone ranks session 0 first in both rounds: at most one seat in it each.
    rank_all(event, 4)
    close_preferences(event)

    services.confirm_allocation(services.run_allocation(event, seed=5))

    for registration in event.registrations.all():
        sessions = list(registration.choices.active().values_list("session", flat=True))
        assert len(sessions) == len(set(sessions))


def test_confirm_is_final_and_idempotent(event):
    rank_all(event, 3)
    close_preferences(event)
    run = services.run_allocation(event, seed=1)
    other = services.run_allocation(event, seed=2)
    services.confirm_allocation(run)
    choices = SessionChoice.objects.count()

    again = services.confirm_allocation(run)
    with pytest.raises(ValidationError) as excinfo:
        services.confirm_allocation(other)

    assert again == []
    assert excinfo.value.code == "done"
    assert SessionChoice.objects.count() == choices
    with pytest.raises(ValidationError):
        services.run_allocation(event)


def test_after_allocation_remaining_seats_go_first_come(event):
    rank_all(event, 1)
    close_preferences(event)
    services.confirm_allocation(services.run_allocation(event, seed=1))
    first_round, _ = offerings_by_round(event)

    outcome = services.register_attendee(event, person=person(99), offering_ids=[first_round[1].pk])

    assert outcome.registration.choices.get().status == "confirmed"


def test_reserved_seats_hold_in_the_lottery(event):
    first_round, _ = offerings_by_round(event)
    target = first_round[0]
    target.seat_reservations.create(
        event=event, role="resident", share=50,
        released_at=timezone.now() + datetime.timedelta(days=5),
    )  # fmt: skip
    for number in range(4):
        services.register_preferences(
            event,
            person=person(number, role="civil_servant"),
            preferences={target.round_id: [target.pk]},
        )
    services.register_preferences(
        event, person=person(10, role="resident"), preferences={target.round_id: [target.pk]}
    )
    close_preferences(event)

    services.confirm_allocation(services.run_allocation(event, seed=9))

    confirmed = target.choices.confirmed()
    assert confirmed.count() == 2
    assert confirmed.filter(registration__role="resident").count() == 1


def test_command_runs_once_per_event_and_confirms_on_request(event, mailoutbox):
    rank_all(event, 4)
    close_preferences(event)

    call_command("allocate_preferences", verbosity=0)
    call_command("allocate_preferences", verbosity=0)
    assert AllocationRun.objects.filter(event=event).count() == 1
    call_command("allocate_preferences", "--confirm", verbosity=0)
    call_command("allocate_preferences", "--confirm", verbosity=0)

    event.refresh_from_db()
    assert event.allocated_at is not None
    assert AllocationRun.objects.get(event=event).confirmed_at is not None


def test_dag_van_de_buurt_end_to_end_with_generated_participants(seed_fixtures):
    seed = Event.objects.get(slug="dag-van-de-buurt-2021")
    event = copy_as_draft(seed, start_date=timezone.localdate() + datetime.timedelta(days=30))
    event.is_published = True
    event.allocation_mode = Event.AllocationMode.PREFERENCE
    event.registration_opens_at = timezone.now() - datetime.timedelta(days=2)
    event.preferences_close_at = timezone.now() + datetime.timedelta(days=1)
    event.save()
    rounds = offerings_by_round(event)
    randomiser = random.Random(2021)
    for number in range(300):
        services.register_preferences(
            event,
            person=person(number, role=randomiser.choice(["resident", "civil_servant"])),
            preferences={
                offerings[0].round_id: [o.pk for o in randomiser.sample(offerings, 3)]
                for offerings in rounds
            },
        )
    close_preferences(event)

    run = services.run_allocation(event, seed=28)
    services.confirm_allocation(run)

    for offering in event.offerings.all():
        assert offering.choices.confirmed().count() <= offering.capacity
    placed = SessionChoice.objects.filter(offering__event=event, status="confirmed").count()
    summary = run.summary["rounds"]
    assert placed == sum(r["first"] + r["second"] + r["third"] for r in summary.values())
    assert sum(r["first"] for r in summary.values()) > sum(r["third"] for r in summary.values())


def test_admin_draws_previews_redraws_and_confirms(
    admin_client, event, django_capture_on_commit_callbacks, mailoutbox
):
    from django.urls import reverse

    rank_all(event, 8)
    close_preferences(event)
    mailoutbox.clear()

    drawn = admin_client.post(
        reverse("admin:events_event_changelist"),
        {"action": "draw_lottery", "_selected_action": [event.pk]},
    )
    run = AllocationRun.objects.get(event=event)
    page = admin_client.get(drawn["Location"])
    redrawn = admin_client.post(reverse("admin:registrations_allocationrun_rerun", args=[run.pk]))
    latest = AllocationRun.objects.filter(event=event).first()
    confirm_url = reverse("admin:registrations_allocationrun_confirm", args=[latest.pk])
    question = admin_client.get(confirm_url)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(confirm_url)

    assert drawn["Location"] == reverse("admin:registrations_allocationrun_change", args=[run.pk])
    assert "1e keus" in page.content.decode()
    assert redrawn.status_code == 302
    assert AllocationRun.objects.filter(event=event).count() == 2
    assert "Ja, bevestig en mail iedereen" in question.content.decode()
    latest.refresh_from_db()
    assert latest.confirmed_at is not None
    assert len(mailoutbox) == 8


def preference_form(event, **overrides):
    first_round, second_round = offerings_by_round(event)
    data = {
        "name": "Anna de Vries",
        "email": "anna@example.nl",
        "role": "resident",
        "consent": "on",
        f"round_{first_round[0].round_id}_1": str(first_round[2].pk),
        f"round_{first_round[0].round_id}_2": str(first_round[0].pk),
        f"round_{second_round[0].round_id}_1": str(second_round[1].pk),
    }
    data.update(overrides)
    return data


def test_event_page_invites_preferences_and_form_takes_rankings(client, event):
    from django.urls import reverse

    page = client.get(event.get_absolute_url()).content.decode()
    form_page = client.get(reverse("registrations:create", args=[event.slug])).content.decode()
    response = client.post(
        reverse("registrations:create", args=[event.slug]), preference_form(event)
    )
    done = client.get(response["Location"]).content.decode()

    assert "Voorkeuren opgeven" in page
    assert "een loting beslist bij gelijke aanspraken" in form_page
    assert form_page.count('<select name="round_') == 6
    assert response.status_code == 302
    first_round, second_round = offerings_by_round(event)
    registration = event.registrations.get()
    assert list(registration.preferences.values_list("offering", "rank")) == [
        (first_round[2].pk, 1),
        (first_round[0].pk, 2),
        (second_round[1].pk, 1),
    ]
    # A message went; the page lists no rankings as saved (see test_views: a repeat).
    assert "We hebben een bericht gestuurd naar <strong>anna@example.nl</strong>" in done
    assert "Na de sluitingsdatum worden de plekken verdeeld" in done
    assert first_round[2].session.title not in done


@pytest.mark.parametrize(
    ("field_rank", "value_index", "message"),
    [
        (2, 0, "Vul je keuzes op volgorde in"),  # a second choice without a first
    ],
)
def test_ranking_form_rejects_gaps(client, event, field_rank, value_index, message):
    from django.urls import reverse

    first_round, _ = offerings_by_round(event)
    data = preference_form(event)
    data[f"round_{first_round[0].round_id}_1"] = ""

    response = client.post(reverse("registrations:create", args=[event.slug]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert event.registrations.count() == 0


def test_ranking_form_rejects_same_session_twice_in_a_round(client, event):
    from django.urls import reverse

    first_round, _ = offerings_by_round(event)
    data = preference_form(event)
    data[f"round_{first_round[0].round_id}_2"] = str(first_round[2].pk)

    response = client.post(reverse("registrations:create", args=[event.slug]), data)

    assert response.status_code == 400
    assert "Je hebt deze sessie al gekozen voor deze ronde." in response.content.decode()


def test_personal_link_changes_preferences_until_the_deadline(client, event):
    first_round, _ = offerings_by_round(event)
    registration = services.register_preferences(
        event, person=person(1), preferences={first_round[0].round_id: [first_round[0].pk]}
    ).registration

    page = client.get(registration.get_absolute_url()).content.decode()
    response = client.post(
        registration.get_absolute_url(),
        {f"round_{first_round[0].round_id}_1": str(first_round[1].pk)},
    )
    close_preferences(event)
    late = client.post(
        registration.get_absolute_url(),
        {f"round_{first_round[0].round_id}_1": str(first_round[2].pk)},
    )

    assert "Je voorkeuren wijzigen" in page
    assert response.status_code == 302
    assert late.status_code == 409
    assert list(registration.preferences.values_list("offering", flat=True)) == [first_round[1].pk]


def test_registration_pauses_while_places_are_assigned(client, event):
    from django.urls import reverse

    close_preferences(event)

    response = client.get(reverse("registrations:create", args=[event.slug]))

    assert response.status_code == 200
    assert "De plekken worden nu verdeeld." in response.content.decode()


def test_winner_who_cancels_before_confirmation_leaves_the_seat_to_the_next(
    one_seat_event, django_capture_on_commit_callbacks, mailoutbox
):
    event, offering = one_seat_event
    event.allocation_mode = Event.AllocationMode.PREFERENCE
    event.preferences_close_at = timezone.now() + datetime.timedelta(days=1)
    event.save()
    people = [
        services.register_preferences(
            event, person=person(n), preferences={offering.round_id: [offering.pk]}
        ).registration
        for n in range(2)
    ]
    close_preferences(event)
    run = services.run_allocation(event, seed=1)
    winner_id = next(pid for pid, _rid, _oid in run.result["assignments"])
    services.cancel_registration(next(r for r in people if r.pk == winner_id))

    services.confirm_allocation(run)

    [confirmed] = offering.choices.confirmed()
    assert confirmed.registration_id != winner_id
    assert confirmed.registration.status == "confirmed"


def test_lottery_refuses_two_group_reservations_on_one_session(one_seat_event):
    event, offering = one_seat_event
    event.allocation_mode = Event.AllocationMode.PREFERENCE
    close_preferences(event)
    for role in ["resident", "entrepreneur"]:
        reserve_seats(offering, role=role, share=50)

    with pytest.raises(ValidationError) as excinfo:
        services.run_allocation(event, seed=1)

    assert excinfo.value.code == "two_reservations"
