"""A session across rounds and rounds that overlap: the form, the services and every page
that shows a person's sessions (issue 17)."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from registrations import services
from registrations.forms import ChangeChoicesForm, RegistrationForm
from registrations.models import Registration, SessionChoice
from tests.factories import SeriesFactory, build_span_programme, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def span():
    return build_span_programme(capacity=100)


def rounds_of(event):
    return list(event.rounds.order_by("starts_at").prefetch_related("offerings"))


def form_data(offerings, **rounds):
    """A POST with the given offerings (by name) or '0' (no session) per round number."""
    event = offerings["workshop"].event
    round_pks = [round_.pk for round_ in event.rounds.order_by("starts_at")]
    data = {
        "name": "Anna de Vries",
        "email": "anna@example.nl",
        "role": "resident",
        "consent": "on",
        "website": "",
    }
    for number, choice in rounds.items():
        value = choice if choice == "0" else str(offerings[choice].pk)
        data[f"round_{round_pks[int(number[1:]) - 1]}"] = value
    return data


def bound_form(span, **rounds):
    event, offerings = span
    return RegistrationForm(form_data(offerings, **rounds), event=event, rounds=rounds_of(event))


# The form ---------------------------------------------------------------------------


def test_a_session_across_rounds_is_offered_once_with_its_real_times(span):
    event, offerings = span

    form = RegistrationForm(event=event, rounds=rounds_of(event))

    first, second, third = (form.fields[name] for name in form.round_fields)
    # The title is the choice's label; the times of a span are in its description.
    labels = [f"{label} {getattr(label, 'details', '')}" for _value, label in first.choices]
    [excursion] = [label for label in labels if "Excursie" in label]
    assert "13:20–15:30, tot het einde van Ronde 2" in excursion
    assert not any("Excursie" in str(label) for _value, label in second.choices)
    assert "Excursie door de wijk (Ronde 1) duurt tot 15:30" in second.help_text
    assert "Deze ronde overlapt in tijd met Ronde 3." in second.help_text
    assert "Deze ronde overlapt in tijd met Ronde 2." in third.help_text


def test_the_excursion_fills_the_round_it_spans(span):
    form = bound_form(span, r1="excursion", r3="0")

    assert form.is_valid(), form.errors
    assert form.chosen_offering_ids() == [span[1]["excursion"].pk]


def test_another_session_in_a_spanned_round_is_refused_next_to_that_field(span):
    event, offerings = span

    form = bound_form(span, r1="excursion", r2="table", r3="0")

    assert not form.is_valid()
    [message] = form.errors[f"round_{offerings['table'].round_id}"]
    assert message == (
        "Excursie door de wijk, die je in Ronde 1 koos, duurt tot 15:30 en neemt ook deze "
        "ronde in beslag. Kies hier ‘geen sessie’, of een andere sessie in Ronde 1."
    )


def test_a_session_in_an_overlapping_round_is_refused(span):
    event, offerings = span

    form = bound_form(span, r1="workshop", r2="table", r3="late")

    assert not form.is_valid()
    [message] = form.errors[f"round_{offerings['late'].round_id}"]
    assert message == (
        "Deze sessie is op hetzelfde moment als Tafel over groen, die je in Ronde 2 koos. "
        "Kies een andere sessie of ‘geen sessie’."
    )


def test_sessions_that_do_not_overlap_are_accepted(span):
    form = bound_form(span, r1="workshop", r2="0", r3="late")

    assert form.is_valid(), form.errors


def test_a_taken_up_round_left_empty_without_its_session_still_needs_a_choice(span):
    event, offerings = span

    form = bound_form(span, r1="workshop", r3="0")

    assert not form.is_valid()
    assert form.errors[f"round_{offerings['table'].round_id}"] == [
        "Kies een sessie voor Ronde 2, of ‘geen sessie’."
    ]


def test_the_change_form_refuses_overlapping_choices_too(span):
    event, offerings = span
    rounds = rounds_of(event)

    form = ChangeChoicesForm(
        {
            f"round_{rounds[0].pk}": str(offerings["excursion"].pk),
            f"round_{rounds[1].pk}": "0",
            f"round_{rounds[2].pk}": str(offerings["late"].pk),
        },
        rounds=rounds,
        current={},
    )

    assert not form.is_valid()
    assert "neemt ook deze ronde in beslag" not in str(form.errors)
    assert "op hetzelfde moment als Excursie door de wijk" in str(
        form.errors[f"round_{rounds[2].pk}"]
    )


def test_the_registration_page_refuses_overlap_and_keeps_what_was_typed(client, span):
    event, offerings = span

    response = client.post(
        reverse("registrations:create", args=[event.slug]),
        form_data(offerings, r1="excursion", r2="table", r3="0"),
    )

    assert response.status_code == 400
    content = response.content.decode()
    assert "neemt ook deze ronde in beslag" in content
    assert 'value="Anna de Vries"' in content
    assert Registration.objects.count() == 0


# Services ---------------------------------------------------------------------------


def test_the_service_refuses_sessions_at_the_same_time(span):
    event, offerings = span

    with pytest.raises(ValidationError) as error:
        services.register_attendee(
            event,
            person=person(1),
            offering_ids=[offerings["excursion"].pk, offerings["late"].pk],
        )

    assert error.value.code == "overlapping_times"
    assert Registration.objects.count() == 0


def test_changing_from_the_excursion_to_two_sessions_frees_its_seat(span):
    event, offerings = span
    registration = services.register_attendee(
        event, person=person(1), offering_ids=[offerings["excursion"].pk]
    ).registration

    services.change_choices(
        registration, offering_ids=[offerings["workshop"].pk, offerings["table"].pk]
    )

    assert set(registration.choices.active().values_list("offering", flat=True)) == {
        offerings["workshop"].pk,
        offerings["table"].pk,
    }
    assert offerings["excursion"].choices.active().count() == 0


def test_the_excursion_has_one_set_of_seats_for_its_whole_span(span):
    event, offerings = span
    excursion = offerings["excursion"]
    excursion.capacity = 1
    excursion.save()

    first, second = (
        services.register_attendee(event, person=person(n), offering_ids=[excursion.pk])
        for n in (1, 2)
    )

    assert [choice.status for choice in excursion.choices.order_by("pk")] == [
        "confirmed",
        "waiting",
    ]
    assert SessionChoice.objects.count() == 2  # one choice each, not one per round


# What people see --------------------------------------------------------------------


def registered_for_excursion(client, span, django_capture_on_commit_callbacks):
    event, offerings = span
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("registrations:create", args=[event.slug]),
            form_data(offerings, r1="excursion", r3="0"),
        )
    assert response.status_code == 302, response.content.decode()
    return response


def test_confirmation_page_and_email_show_the_real_start_and_end(
    client, span, django_capture_on_commit_callbacks
):
    response = registered_for_excursion(client, span, django_capture_on_commit_callbacks)

    # The page after the form lists no choices (registrations.standing): the e-mail does.
    assert client.get(response["Location"]).status_code == 200
    [message] = mail.outbox
    assert "- Ronde 1 – Ronde 2 (13:20–15:30): Excursie door de wijk" in message.body
    assert (
        "Ronde 1 – Ronde 2</strong> (<time>13:20</time> – <time>15:30</time>)"
        in message.alternatives[0][0]
    )
    [(_name, ics, _type)] = message.attachments
    [item] = Calendar.from_ical(ics).walk("VEVENT")
    assert "Ronde 1 – Ronde 2 (13:20–15:30): Excursie door de wijk" in str(item["description"])


def test_personal_page_shows_the_real_start_and_end(
    client, span, django_capture_on_commit_callbacks
):
    registered_for_excursion(client, span, django_capture_on_commit_callbacks)
    registration = Registration.objects.get()

    page = client.get(registration.get_absolute_url()).content.decode()

    assert "Ronde 1 – Ronde 2</strong> (<time>13:20</time> – <time>15:30</time>)" in page


def test_sign_in_sheet_shows_the_real_start_and_end(client, span, organiser):
    event, offerings = span
    services.register_attendee(event, person=person(1), offering_ids=[offerings["excursion"].pk])
    client.force_login(organiser)

    page = client.get(
        reverse("registrations:offering_attendees", args=[offerings["excursion"].pk])
    ).content.decode()

    assert "<dd>Ronde 1 – Ronde 2</dd>" in page
    assert "<time>13:20</time> – <time>15:30</time>" in page
    assert "P1" in page


def test_event_page_shows_the_real_start_and_end_on_the_card(client, span):
    event, _offerings = span

    page = client.get(event.get_absolute_url()).content.decode()

    assert "<time>13:20</time> – <time>15:30</time> (tot het einde van Ronde 2)" in page


# Preference mode --------------------------------------------------------------------


def test_preference_mode_accepts_a_programme_with_a_session_across_rounds(span):
    event, offerings = span
    event.allocation_mode = event.AllocationMode.PREFERENCE
    event.preferences_close_at = timezone.now() + datetime.timedelta(days=1)

    event.full_clean()
    offerings["excursion"].full_clean()


def test_the_lottery_gives_the_excursion_once_and_nothing_else_in_its_rounds(span):
    """Three rank the excursion (2 seats) first in Ronde 1 and the table in Ronde 2: two
    get the excursion and nothing in Ronde 2 or the overlapping Ronde 3, the third the
    workshop and the table; nobody waits for a session at the same time as their own."""
    event, offerings = span
    offerings["excursion"].capacity = 2
    offerings["excursion"].save()
    event.allocation_mode = event.AllocationMode.PREFERENCE
    event.registration_opens_at = timezone.now() - datetime.timedelta(days=2)
    event.preferences_close_at = timezone.now() + datetime.timedelta(days=1)
    event.save()
    excursion, workshop = offerings["excursion"], offerings["workshop"]
    table, late = offerings["table"], offerings["late"]
    for number in range(3):
        services.register_preferences(
            event,
            person=person(number),
            preferences={
                excursion.round_id: [excursion.pk, workshop.pk],
                table.round_id: [table.pk],
                late.round_id: [late.pk],
            },
        )
    event.preferences_close_at = timezone.now() - datetime.timedelta(minutes=1)
    event.save()

    run = services.run_allocation(event, seed=7)
    services.confirm_allocation(run)

    assert excursion.choices.confirmed().count() == 2
    for registration in Registration.objects.filter(event=event):
        held = {choice.offering for choice in registration.choices.active()}
        if excursion in held:
            assert held == {excursion}
        else:
            assert workshop in held and table in held and late not in held
    assert not SessionChoice.objects.filter(offering=excursion, status="waiting").exists()
    # The table's holder cannot be in the overlapping Ronde 3: one of the two, never both.
    assert run.summary["rounds"][str(table.round_id)]["unplaced"] == 0


def test_the_series_form_lets_the_excursion_fill_its_rounds_and_checks_only_ticked_events(
    client,
):
    series = SeriesFactory()
    event, offerings = build_span_programme(series=series, capacity=100)
    other, _other_offerings = build_span_programme(series=series, capacity=100)
    first, second, third = event.rounds.order_by("starts_at")
    data = {
        "name": "Sam",
        "email": "sam@example.nl",
        "role": "professional",
        "consent": "on",
        f"event_{event.pk}": "on",
        f"round_{first.pk}": str(offerings["excursion"].pk),
        f"round_{third.pk}": "0",
    }
    url = reverse("registrations:series", args=[series.slug])

    refused = client.post(url, {**data, f"round_{second.pk}": str(offerings["table"].pk)})
    response = client.post(url, data)

    assert refused.status_code == 400
    assert "neemt ook deze ronde in beslag" in refused.content.decode()
    assert response.status_code == 302
    registration = Registration.objects.get()  # the unticked event asked nothing
    assert registration.event == event
    assert registration.choices.get().offering == offerings["excursion"]


def test_event_page_mentions_the_excursion_in_the_round_it_runs_on_into(client, span):
    event, _offerings = span

    page = client.get(event.get_absolute_url()).content.decode()
    english = client.get(event.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert page.count("Loopt door: Excursie door de wijk (Ronde 1), tot 15:30") == 1
    assert page.index("Ronde 2</h3>") < page.index("Loopt door:") < page.index("Ronde 3</h3>")
    assert "Continues here: Excursie door de wijk (Ronde 1), until 15:30" in english
