"""Crafted parameters in the admin answer the normal page or a 400, never a 500.

Every registered ModelAdmin is checked: each parameter its list filters, date hierarchy,
search and ordering read from the query string, and each choice of a related object in
its change form. The values are what an audit fuzzer sends: text where a number belongs,
a digit-like Unicode character, a NUL byte (refused only by PostgreSQL), a number beyond
any integer column and a negative one.
"""

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

BAD_VALUES = ["abc", "²", "\x00", "99999999999999999999", "-1"]
# A year 0 or after 9999 has no dates; a year 9999 has no end of its period.
BAD_YEARS = [*BAD_VALUES, "0", "9999"]

REGISTERED = sorted(
    (model._meta.app_label, model._meta.model_name) for model in admin.site._registry
)


@pytest.fixture
def crash_reporting_client(admin_client):
    """The admin client, answering 500 instead of raising, so that one test lists them all."""
    admin_client.raise_request_exception = False
    return admin_client


def query_parameters(client, url):
    """Every parameter the changelist reads from the query string, found on the page itself."""
    changelist = client.get(url).context["cl"]
    model_admin = changelist.model_admin
    names = {"q", "o", "p"}
    for spec in changelist.filter_specs:
        names.update(spec.expected_parameters())
    for item in model_admin.list_filter:
        # A bare field path is accepted as a lookup of its own (ModelAdmin.lookup_allowed).
        if isinstance(item, str | tuple):
            names.add(item if isinstance(item, str) else item[0])
    if changelist.date_hierarchy:
        names.add(changelist.date_hierarchy)
    return sorted(names)


def date_hierarchy_queries(field):
    year, month, day = (f"{field}__{part}" for part in ["year", "month", "day"])
    yield from ({year: value} for value in BAD_YEARS)
    yield from ({year: "2026", month: value} for value in BAD_VALUES)
    yield {year: "2026", month: "2", day: "99999999999999999999"}
    yield {year: "9999", month: "12"}
    yield {year: "9999", month: "12", day: "31"}


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_changelist_answers_bad_filter_values_without_500(
    crash_reporting_client, programme, app_label, model_name
):
    client = crash_reporting_client
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    queries = [{name: value} for name in query_parameters(client, url) for value in BAD_VALUES]
    date_field = admin.site._registry[apps.get_model(app_label, model_name)].date_hierarchy
    if date_field:
        queries.extend(date_hierarchy_queries(date_field))

    crashes = [query for query in queries if client.get(url, query).status_code >= 500]

    assert crashes == []
    assert len(queries) >= len(BAD_VALUES) * 3  # q, o and p at least


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_changelist_action_with_bad_selection_answers_without_500(
    crash_reporting_client, programme, app_label, model_name
):
    url = reverse(f"admin:{app_label}_{model_name}_changelist")

    statuses = {
        value: crash_reporting_client.post(
            url, {"action": "delete_selected", "_selected_action": [value], "index": 0}
        ).status_code
        for value in BAD_VALUES
    }

    assert all(status < 500 for status in statuses.values()), statuses


def forms_on_page(page, *, rows=None):
    """The change form and the forms of its inlines (their first `rows` rows)."""
    found = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        found += inline.formset.forms[:rows]
    return found


def change_form_data(page):
    """The POST data of an admin change page as the browser would send it unchanged."""
    inlines = page.context["inline_admin_formsets"]
    management = [inline.formset.management_form for inline in inlines]
    data = {}
    for form in [*forms_on_page(page), *management]:
        for field in form:
            value = field.value()
            widget = field.field.widget
            if isinstance(widget, forms.MultiWidget):
                parts = value if isinstance(value, list | tuple) else widget.decompress(value)
                for index, part in enumerate(parts):
                    data[f"{field.html_name}_{index}"] = "" if part is None else str(part)
            elif isinstance(widget, forms.CheckboxInput):
                if value:
                    data[field.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[field.html_name] = [str(item) for item in value]
            elif value is not None:
                data[field.html_name] = str(value)
    return data


def related_fields(page):
    """(form, field name) of each visible choice of a related object, in the first inline row."""
    return [
        (form, name)
        for form in forms_on_page(page, rows=1)  # the other rows have the same fields
        for name, field in form.fields.items()
        if isinstance(field, forms.ModelChoiceField) and not field.widget.is_hidden
    ]


EDITABLE = [
    (app_label, model_name)
    for app_label, model_name in REGISTERED
    if (app_label, model_name) not in {("registrations", "allocationrun")}  # all read-only
]


@pytest.mark.parametrize(("app_label", "model_name"), EDITABLE)
def test_change_form_with_bad_related_values_shows_the_form_with_an_error(
    crash_reporting_client, programme, app_label, model_name
):
    client = crash_reporting_client
    obj = apps.get_model(app_label, model_name).objects.order_by("pk").first()
    url = reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk])
    page = client.get(url)
    data = change_form_data(page)
    fields = related_fields(page)
    assert client.post(url, data).status_code == 302  # the page's own data is accepted

    keys = [form.add_prefix(name) for form, name in fields]
    results = {}
    for value in BAD_VALUES:  # into every related field at once: one POST per value
        response = client.post(url, {**data, **dict.fromkeys(keys, [value])})
        shown = forms_on_page(response) if response.status_code == 200 else []
        errors = {form.add_prefix(name) for form in shown for name in form.errors}
        for key in keys:
            results[(key, value)] = (response.status_code, key in errors)

    assert [result for result, outcome in results.items() if outcome[0] >= 500] == []
    assert [result for result, outcome in results.items() if not outcome[1]] == []


def test_event_change_form_with_a_made_up_series_or_venue_says_so(admin_client, programme):
    url = reverse("admin:events_event_change", args=[programme.pk])
    data = change_form_data(admin_client.get(url))
    series_id, venue_id = programme.series_id, programme.venue_id

    for field in ["series", "venue"]:
        response = admin_client.post(url, {**data, field: "abc"})

        assert response.status_code == 200
        assert response.context["adminform"].form.errors[field] == [
            "Selecteer een geldige keuze. Deze keuze is niet beschikbaar."
        ]
    programme.refresh_from_db()
    assert (programme.series_id, programme.venue_id) == (series_id, venue_id)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"offering": "abc"}, 302),
        ({"offering": "99999999999999999999"}, 302),
        ({"event__id__exact": "²"}, 200),  # one event: Django shows no event filter
        ({"created_at__year": "99999999999999999999"}, 302),
        ({"status": "\x00"}, 400),
        ({"role": "\x00"}, 400),
        ({"q": "\x00"}, 400),
    ],
)
def test_audit_examples_on_the_registration_list(admin_client, programme, query, status):
    url = reverse("admin:registrations_registration_changelist")

    response = admin_client.get(url, query)

    assert response.status_code == status
    if status == 302:  # Django's own "?e=1" page: the list without filters and a notice
        assert response["Location"] == f"{url}?e=1"
        assert admin_client.get(response["Location"]).status_code == 200
    elif status == 400:
        assert "Ongeldig verzoek" in response.content.decode()


def test_the_offering_filter_still_filters(admin_client, programme):
    offering = programme.offerings.first()
    url = reverse("admin:registrations_registration_changelist")

    response = admin_client.get(url, {"offering": str(offering.pk)})
    other = admin_client.get(url, {"offering": str(programme.offerings.last().pk)})

    assert [r.name for r in response.context["cl"].result_list] == ["Anna"]
    assert list(other.context["cl"].result_list) == []
