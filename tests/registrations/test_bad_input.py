"""Arbitrary and hostile input never causes a server error or changes data."""

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from registrations import services
from registrations.models import Registration, SessionChoice
from tests.factories import build_programme, offerings_by_round

pytestmark = pytest.mark.django_db

HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "\x00",
        "a" * 5000,
        "😀" * 300,
        "-1",
        "0",
        "999999999999999999999",
        "1.5",
        "null",
        "[]",
        "{}",
        "../../etc/passwd",
        "anna@example.nl\r\nBcc: x@example.nl",
        "%(name)s",
        "{{ 7*7 }}",
    ]
)
VALUES = st.one_of(HOSTILE, st.text(max_size=300))
FIELDS = ["name", "email", "organisation", "function", "role", "question", "consent"]


def snapshot():
    return (
        list(Registration.objects.order_by("pk").values()),
        list(SessionChoice.objects.order_by("pk").values()),
    )


@pytest.fixture
def programme(db):
    event = build_programme(sessions=3, rounds=2, capacity=100)
    registration = services.register_attendee(
        event,
        person=services.Person(name="Bestaand", email="bestaand@example.nl", role="resident"),
        offering_ids=[offerings_by_round(event)[0][0].pk],
    ).registration
    return event, registration


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(data=st.dictionaries(st.sampled_from(FIELDS + ["round_x", "round_1"]), VALUES))
def test_registration_form_never_errors_on_arbitrary_input(programme, data):
    event, _registration = programme
    rounds = offerings_by_round(event)
    # Valid round keys with hostile values, too.
    for index, offerings in enumerate(rounds):
        data.setdefault(
            f"round_{offerings[0].round_id}", ["", "abc", "-1", "0", str(10**20)][index]
        )
    data["name"] = data.get("name", "")  # never a valid registration: the name may be blank
    before = snapshot()

    response = Client().post(f"/evenementen/{event.slug}/aanmelden/", data)

    assert response.status_code < 500
    if response.status_code != 302:
        assert response.status_code == 400
        assert snapshot() == before


@SETTINGS
@given(data=st.dictionaries(st.text(max_size=20), VALUES, max_size=6))
def test_manage_page_never_errors_and_changes_nothing_when_invalid(programme, data):
    _event, registration = programme
    before = snapshot()

    response = Client().post(registration.get_absolute_url(), data)

    assert response.status_code < 500
    if response.status_code != 302:
        assert snapshot() == before


@SETTINGS
@given(token=st.text(max_size=100))
@example(token="\x00")  # PostgreSQL refuses NUL in text: found on PostgreSQL by hypothesis
def test_arbitrary_tokens_are_404_not_500(programme, token):
    response = Client().get(f"/aanmelding/{token}/")

    assert response.status_code in {404, 400, 301}
