"""Forms rendered by crispy-forms with the house template pack (templates/house/)."""

import re
from pathlib import Path

import pytest
from django import forms
from django.conf import settings
from django.urls import reverse

from registrations import services
from registrations.forms import RegistrationForm, RoundFields
from tests.factories import offerings_by_round

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# Field markup: a label, or an input that people fill in or choose.
FIELD_MARKUP = re.compile(r"<label\b|<select\b|<textarea\b|<input\b(?![^>]*type=\"hidden\")")


def test_only_the_template_pack_writes_field_markup():
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if path.relative_to(TEMPLATES).parts[0] not in {"house", "admin"}
        and FIELD_MARKUP.search(path.read_text())
    ]

    assert offenders == []


def test_registration_form_saves_no_model():
    assert not issubclass(RegistrationForm, forms.ModelForm)


def test_registration_form_is_laid_out_in_fieldsets_with_a_button(event):
    rounds = list(event.rounds.order_by("starts_at"))

    layout = RegistrationForm(event=event, rounds=rounds).helper.layout

    [details, *round_fields, question, consent, button] = layout.fields
    assert str(details.legend) == "Je gegevens"
    assert [field.wrapper_class for field in round_fields] == ["round-choice"] * 2
    assert (question, consent) == ("question", "consent")
    assert 'type="submit"' in button.flat_attrs


def test_forms_made_from_kept_round_fields_do_not_change_each_other(event):
    rounds = list(event.rounds.order_by("starts_at"))
    kept = RoundFields(rounds)
    preselected = offerings_by_round(event)[0][1]
    first = RegistrationForm(event=event, rounds=rounds, round_fields=kept)
    second = RegistrationForm(
        event=event, rounds=rounds, round_fields=kept, preselected=preselected
    )
    name = f"round_{preselected.round_id}"
    first.fields[name].widget.attrs["aria-describedby"] = "fout"

    assert first.fields[name].widget.choices is kept.fields[name].widget.choices  # shared
    assert "aria-describedby" not in second.fields[name].widget.attrs
    assert "aria-describedby" not in kept.fields[name].widget.attrs
    assert first.fields[name].initial is None
    assert second.fields[name].initial == str(preselected.pk)
    checked = [
        [radio.data["value"] for radio in form[name].subwidgets if radio.data["selected"]]
        for form in (first, second)
    ]
    assert checked == [[], [str(preselected.pk)]]


def test_login_error_is_next_to_the_field_and_in_the_summary(client):
    response = client.post(reverse("login"), {"username": "moderator", "password": ""})

    content = response.content.decode()
    assert '<a href="#id_password">Vul je wachtwoord in.</a>' in content
    [field] = re.findall(r"<input[^>]*name=\"password\"[^>]*>", content)
    assert 'aria-describedby="id_password_error"' in field
    assert 'autocomplete="current-password"' in field
    assert '<div id="id_password_error" class="invalid-feedback">' in content


def test_password_reset_error_has_a_summary_linking_to_the_field(client):
    response = client.post(reverse("password_reset"), {"email": "geen-adres"})

    content = response.content.decode()
    assert 'id="error-summary"' in content
    assert '<a href="#id_email">' in content
    [field] = re.findall(r"<input[^>]*name=\"email\"[^>]*>", content)
    assert 'autocomplete="email"' in field
    assert 'aria-invalid="true"' in field


def test_cancel_page_offers_the_button_and_a_way_back(client, event):
    registration = services.register_attendee(
        event, person=services.Person(name="Anna", email="anna@example.nl", role="resident")
    ).registration

    response = client.get(reverse("registrations:cancel", args=[registration.token]))

    content = response.content.decode()
    assert re.search(
        r'<form method="post">\s*<input type="hidden" name="csrfmiddlewaretoken"', content
    )
    assert '<button class="button button--danger" type="submit">' in content
    assert f'href="{registration.get_absolute_url()}">Nee, houd mijn aanmelding</a>' in content


def test_checkin_buttons_name_the_person_as_text_not_as_a_template(client, event, moderator):
    offering = offerings_by_round(event)[0][0]
    services.register_attendee(
        event,
        person=services.Person(name="{{ request }}{% now 'Y' %}", email="a@b.nl", role="resident"),
        offering_ids=[offering.pk],
    )
    offering.moderators.add(moderator)
    client.force_login(moderator)

    response = client.get(reverse("registrations:offering_checkin", args=[offering.pk]), {"q": "{"})

    content = response.content.decode()
    assert (
        '<span class="visually-hidden">: {{ request }}{% now &#x27;Y&#x27; %}</span></button>'
        in content
    )
    assert 'aria-pressed="false"' in content
    assert 'value="{"' in content  # the search, kept in its field
