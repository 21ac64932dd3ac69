"""The labels a new site starts with; organisers edit them in the admin afterwards.

Used by the migrations that introduce each list and after a database flush (tests), when
a list is empty. Codes of the event kinds and roles are the values of the fixed choices
they replace, so existing rows and the seed fixtures keep pointing at the same label.
"""

# (code, Dutch name, English name)
SESSION_KINDS = [
    ("workshop", "workshop", "workshop"),
    ("table_session", "tafelsessie", "table session"),
    ("masterclass", "masterclass", "masterclass"),
    ("round_table", "ronde tafel", "round table"),
    ("practice_session", "praktijksessie", "practice session"),
    ("excursion", "excursie", "excursion"),
]


def create_missing(model, rows, using="default", **extra_per_code):
    """Create the rows of an empty list, in the given order."""
    if model.objects.using(using).exists():
        return
    model.objects.using(using).bulk_create(
        model(code=code, name=name, name_en=name_en, order=index, **extra_per_code.get(code, {}))
        for index, (code, name, name_en) in enumerate(rows, start=1)
    )


def create_session_kinds(apps, schema_editor=None):
    using = schema_editor.connection.alias if schema_editor else "default"
    create_missing(apps.get_model("events", "SessionKind"), SESSION_KINDS, using)


def create_all(apps, using):
    """Every list, where its model exists in `apps` (the state after migrating)."""
    for model_name, rows in [("SessionKind", SESSION_KINDS)]:
        try:
            model = apps.get_model("events", model_name)
        except LookupError:
            continue
        create_missing(model, rows, using)
