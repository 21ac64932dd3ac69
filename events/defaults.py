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

# The codes of the former fixed choices come first, with the names they had.
EVENT_KINDS = [
    ("knowledge", "kennisbijeenkomst", "knowledge meeting"),
    ("reflection", "reflectiebijeenkomst", "reflection meeting"),
    ("practice", "praktijkbijeenkomst", "practice meeting"),
    ("feedback", "terugkoppeling", "feedback meeting"),
    ("congress", "congres", "congress"),
    ("study_afternoon", "studiemiddag", "study afternoon"),
    ("afternoon", "middagbijeenkomst", "afternoon meeting"),
    ("theme_day", "themadag", "theme day"),
    ("meeting", "bijeenkomst", "meeting"),
    ("knowledge_studio", "kennisatelier", "knowledge studio"),
    ("inspiration", "inspiratiebijeenkomst", "inspiration meeting"),
    ("evening_meeting", "avondbijeenkomst", "evening meeting"),
]

# The codes of the former fixed choices, with the names they had.
SERIES_KINDS = [
    ("year_programme", "jaarprogramma", "year programme"),
    ("congress", "jaarlijks congres", "annual congress"),
    ("relay", "estafette", "relay series"),
    ("other", "reeks", "series"),
]

ROLES = [
    ("chair", "dagvoorzitter", "chair"),
    ("moderator", "moderator", "moderator"),
    ("presenter", "presentator", "presenter"),
    ("opening", "opening", "opening speaker"),
    ("speaker", "spreker", "speaker"),
    ("table_guest", "tafelgast", "table guest"),
    ("leader", "sessieleider", "session leader"),
    ("keynote", "keynote", "keynote speaker"),
    ("discussion_leader", "gespreksleider", "discussion leader"),
]
# Per role code: an evening name, and whether the event page names it at the top.
ROLE_EXTRAS = {
    "chair": {"evening_name": "avondvoorzitter", "in_event_facts": True},
    "moderator": {"in_event_facts": True},
    "presenter": {"in_event_facts": True},
    "opening": {"in_event_facts": True},
}


def create_missing(model, rows, using="default", extras=None):
    """Create the rows of an empty list, in the given order."""
    if model.objects.using(using).exists():
        return
    extras = extras or {}
    model.objects.using(using).bulk_create(
        model(code=code, name=name, name_en=name_en, order=index, **extras.get(code, {}))
        for index, (code, name, name_en) in enumerate(rows, start=1)
    )


def create_labels_keeping_values(model, rows, values, using="default", extras=None):
    """The default labels, and one for every value in use that is not among them
    (named after the value), so that no row loses its kind or role."""
    create_missing(model, rows, using, extras)
    known = set(model.objects.using(using).values_list("code", flat=True))
    last = len(known)
    model.objects.using(using).bulk_create(
        model(code=value, name=value.replace("_", " "), order=last + index)
        for index, value in enumerate(sorted(set(values) - known), start=1)
    )


def create_event_kinds_and_roles(apps, schema_editor):
    """Data migration: labels for the former fixed choices and every value in use."""
    using = schema_editor.connection.alias
    event_kinds = apps.get_model("events", "EventKind")
    role_labels = apps.get_model("events", "RoleLabel")
    event_values = apps.get_model("events", "Event").objects.using(using)
    create_labels_keeping_values(
        event_kinds, EVENT_KINDS, event_values.values_list("kind", flat=True), using
    )
    role_values = [
        *apps.get_model("events", "EventRole").objects.using(using).values_list("role", flat=True),
        *apps.get_model("events", "SessionRole")
        .objects.using(using)
        .values_list("role", flat=True),
    ]
    create_labels_keeping_values(role_labels, ROLES, role_values, using, ROLE_EXTRAS)


def create_session_kinds(apps, schema_editor=None):
    using = schema_editor.connection.alias if schema_editor else "default"
    create_missing(apps.get_model("events", "SessionKind"), SESSION_KINDS, using)


def create_all(apps, using):
    """Every list, where its model exists in `apps` (the state after migrating)."""
    lists = [
        ("SessionKind", SESSION_KINDS, None),
        ("EventKind", EVENT_KINDS, None),
        ("RoleLabel", ROLES, ROLE_EXTRAS),
        ("SeriesKind", SERIES_KINDS, None),
    ]
    for model_name, rows, extras in lists:
        try:
            model = apps.get_model("events", model_name)
        except LookupError:
            continue
        create_missing(model, rows, using, extras)


def create_series_kinds(apps, schema_editor):
    """Data migration: labels for the former fixed choices and every value in use."""
    using = schema_editor.connection.alias
    series = apps.get_model("events", "Series").objects.using(using)
    create_labels_keeping_values(
        apps.get_model("events", "SeriesKind"),
        SERIES_KINDS,
        series.values_list("kind", flat=True),
        using,
    )
