"""The seat module's persistence: the statements of a registration's locked part.

A registration holds its event's row lock from the seat count to the commit, and every
other registration for that event waits for it, so this part is written out once per
model instead of built by the ORM per call (which cost more than the queries). Only
``registrations.seats`` uses it.

- ``lock_row()`` reads one row afresh with ``SELECT ... FOR UPDATE``.
- ``address_and_seats()`` reads, in one statement, an address's registration and the
  confirmed seats and capacities that registering needs (and takes a key for a new
  registration); ``seats_taken()`` the seats alone.
  These three reads are prepared statements on PostgreSQL (``_reading_cursor()``).
- ``insert_rows()`` writes new instances of one model with an INSERT built once per model
  and number of rows, reading the new keys back with ``RETURNING`` (PostgreSQL, and SQLite
  from 3.35); ``insert_groups()`` sends the INSERTs of several models, and further
  statements, in one round trip on PostgreSQL, where a new registration's key comes with
  ``address_and_seats()`` so that the rows pointing at it can go in that round trip.

An insert does what saving a new, validated instance does for the models it is used with,
and no more: fields' ``pre_save`` (``auto_now``, ``auto_now_add``) and database
preparation, no signals (nothing in this project listens to them), no validation (call
``full_clean()`` first), no multi-table inheritance.
"""

import functools
from collections import Counter, defaultdict

from django.db import connections

from events.models import SessionOffering

from .models import Registration, SessionChoice, Status


def insert_rows(objs, *, using="default"):
    """INSERT the new instances `objs` (of one model) in one statement; sets their pks."""
    if not objs:
        return objs
    connection = connections[using]
    if not connection.features.can_return_rows_from_bulk_insert:
        return type(objs[0])._base_manager.db_manager(using).bulk_create(objs)
    sql, params = _statement(objs, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        _set_pks(objs, cursor.fetchall(), using)
    return objs


def insert_groups(*groups, using="default"):
    """INSERT several groups of new instances (a list of one model each), in this order:
    in one round trip on PostgreSQL, one statement per group elsewhere. Rows that point
    at a row of an earlier group need its pk already (``address_and_seats``).
    """
    groups = [objs for objs in groups if objs]
    connection = connections[using]
    if len(groups) < 2 or not _several_statements_at_once(connection):
        for objs in groups:
            insert_rows(objs, using=using)
        return groups
    with connection.cursor() as cursor:
        # Each statement is merged with its values on its own (psycopg keeps the parsed
        # form of a statement of up to 50 values, not of all of them together), exactly
        # as client-side binding sends them anyway.
        cursor.execute("; ".join(cursor.mogrify(*_statement(objs, connection)) for objs in groups))
        for index, objs in enumerate(groups):
            if index:
                cursor.nextset()
            _set_pks(objs, cursor.fetchall(), using)
    return groups


def _next_key(model, connection):
    quote = connection.ops.quote_name
    # Names, quoted as SQL strings: pg_get_serial_sequence takes the table's quoted name.
    table, column = quote(model._meta.db_table), model._meta.pk.column
    return f"nextval(pg_get_serial_sequence('{table}', '{column}'))"


def lock_row(model, pk, *, using="default"):
    """The instance of `model` with primary key `pk`, read afresh and locked until the
    end of the transaction (where the database supports ``FOR UPDATE``); None when
    there is no such row."""
    connection = connections[using]
    sql, attnames, converters = _lock_sql(model, using)
    with _reading_cursor(connection) as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, expression, field_converters in converters:
        for converter in field_converters:
            values[index] = converter(values[index], expression, connection)
    return model.from_db(using, attnames, values)


def seats_taken(event_pk, offering_pks=None, *, by_role=True, using="default"):
    """{None: Counter(role: seats), offering pk: Counter(role: seats)} of confirmed seats:
    the event's own and those of its offerings (only `offering_pks`, when given).

    Without `by_role` each Counter holds the total under the role None: enough to show
    the seats left, and cheaper, as the offerings' counts then need no join with the
    registrations.
    """
    sql, params = _seats_sql(event_pk, offering_pks, by_role=by_role, using=using)
    with _reading_cursor(connections[using]) as cursor:
        cursor.execute(sql, params)
        return _seat_counts(cursor.fetchall())


def address_and_seats(event_pk, email, offering_pks, *, by_role=True, using="default"):
    """In one statement: the pk of the event's registration for `email` (cancelled or not,
    or None), the seats taken of the event and the offerings `offering_pks` (as
    ``seats_taken``), those offerings' capacities ({pk: capacity or None}), where they
    are now ({pk: (round pk, session pk, cancelled)}: a programme change may have moved
    them since the caller read them), and a key for a new registration where its rows go
    in one round trip (PostgreSQL; else None: the key comes with its insert)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    seats_sql, seats_params = _seats_sql(event_pk, offering_pks, by_role=by_role, using=using)
    registrations = quote(Registration._meta.db_table)
    offerings = quote(SessionOffering._meta.db_table)
    which, which_params = _offerings_in(offering_pks, using)
    sql = (
        f"SELECT 0, NULL, NULL, id FROM {registrations} "  # noqa: S608 - table names
        "WHERE event_id = %s AND email = %s "
        f"UNION ALL SELECT 1, seats.* FROM ({seats_sql}) seats "
        # The placement travels in the text column: "round:session" or "round:session:x".
        f"UNION ALL SELECT 2, id, CAST(round_id AS VARCHAR(20)) || ':' || "
        "CAST(session_id AS VARCHAR(20)) || "
        "CASE WHEN cancelled_at IS NULL THEN '' ELSE ':x' END, capacity "
        f"FROM {offerings} WHERE id {which}"
    )
    if _several_statements_at_once(connection):
        sql += f" UNION ALL SELECT 3, NULL, NULL, {_next_key(Registration, connection)}"
    with _reading_cursor(connection) as cursor:
        cursor.execute(sql, [event_pk, email, *seats_params, *which_params])
        rows = cursor.fetchall()
    address = next((row[3] for row in rows if row[0] == 0), None)
    new_key = next((row[3] for row in rows if row[0] == 3), None)
    capacities = {row[1]: row[3] for row in rows if row[0] == 2}
    placements = {}
    for row in rows:
        if row[0] == 2:
            round_pk, session_pk, *cancelled = row[2].split(":")
            placements[row[1]] = (int(round_pk), int(session_pk), bool(cancelled))
    counts = _seat_counts(row[1:] for row in rows if row[0] == 1)
    return address, counts, capacities, placements, new_key


def _offerings_in(offering_pks, using):
    if connections[using].vendor == "postgresql":
        # One statement for any number of offerings, so that it is prepared once.
        return "= ANY(%s)", [list(offering_pks or [])]
    if offering_pks:
        return f"IN ({', '.join(['%s'] * len(offering_pks))})", list(offering_pks)
    return "IS NULL", []  # no offerings asked for: none match


def _seats_sql(event_pk, offering_pks, *, by_role, using):
    quote = connections[using].ops.quote_name
    registrations = quote(Registration._meta.db_table)
    choices = quote(SessionChoice._meta.db_table)
    offerings = quote(SessionOffering._meta.db_table)
    # Written into the statement, not a parameter: a prepared statement's plan then uses
    # the indexes of confirmed places (Registration.Meta.indexes), whose condition it is.
    confirmed = f"'{Status.CONFIRMED.value}'"
    if offering_pks is None:
        which = f"IN (SELECT id FROM {offerings} WHERE event_id = %s)"  # noqa: S608 - names
        which_params = [event_pk]
    else:
        which, which_params = _offerings_in(offering_pks, using)
    if by_role:
        sql = (
            f"SELECT NULL, r.role, COUNT(*) FROM {registrations} r "  # noqa: S608 - table names
            f"WHERE r.event_id = %s AND r.status = {confirmed} GROUP BY r.role "
            "UNION ALL "
            f"SELECT c.offering_id, r.role, COUNT(*) FROM {choices} c "
            f"JOIN {registrations} r ON r.id = c.registration_id "
            f"WHERE c.status = {confirmed} AND c.offering_id {which} "
            "GROUP BY c.offering_id, r.role"
        )
    else:
        sql = (
            f"SELECT NULL, NULL, COUNT(*) FROM {registrations} r "  # noqa: S608 - table names
            f"WHERE r.event_id = %s AND r.status = {confirmed} "
            "UNION ALL "
            f"SELECT c.offering_id, NULL, COUNT(*) FROM {choices} c "
            f"WHERE c.status = {confirmed} AND c.offering_id {which} GROUP BY c.offering_id"
        )
    return sql, [event_pk, *which_params]


def _seat_counts(rows):
    counts = defaultdict(Counter)
    for holder, role, n in rows:
        counts[holder][role] += n
    return counts


@functools.cache
def _lock_sql(model, alias):
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    sql = (
        f"SELECT {', '.join(quote(field.column) for field in fields)} "  # noqa: S608 - names
        f"FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} = %s"
    )
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    return sql, [field.attname for field in fields], converters


def _reading_cursor(connection):
    """A cursor for the reads above, Django's own elsewhere. On PostgreSQL it binds the
    parameters in the server and prepares each statement: PostgreSQL then plans it once
    per connection, where Django's cursors (client-side binding) have it planned anew
    each time, which cost more than running it (these reads run on every page view and
    inside the event's lock)."""
    # Where Django records queries (DEBUG, query-count tests) its own cursor runs them: a
    # prepared statement's text is not kept for the record.
    if connection.vendor != "postgresql" or not _psycopg3() or connection.queries_logged:
        return connection.cursor()
    # What connection.cursor() does before it makes a cursor:
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    if connection.connection.prepare_threshold is None:  # DJANGO_DB_PREPARED_STATEMENTS=off
        return connection.cursor()
    return connection.make_cursor(_prepared_cursor_class()(connection.connection))


def _psycopg3():
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


@functools.cache
def _prepared_cursor_class():
    import psycopg

    class PreparedCursor(psycopg.Cursor):
        def execute(self, query, params=None, *, prepare=True, binary=None):
            return super().execute(query, params, prepare=prepare, binary=binary)

    return PreparedCursor


def _several_statements_at_once(connection):
    """psycopg 3 with client-side binding (Django's default) sends a query with several
    statements as it is, and reads their results one after the other."""
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3 and not connection.settings_dict["OPTIONS"].get("server_side_binding")


def _statement(objs, connection):
    model = type(objs[0])
    with_pk = objs[0].pk is not None
    fields = _fields(model, with_pk)
    params = [
        field.get_db_prep_save(field.pre_save(obj, add=True), connection)
        for obj in objs
        for field in fields
    ]
    return _sql(model, len(objs), with_pk, connection.alias), params


def _set_pks(objs, rows, using):
    for obj, (pk, *_rest) in zip(objs, rows, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = using


def _fields(model, with_pk):
    return [field for field in model._meta.concrete_fields if with_pk or not field.primary_key]


@functools.cache
def _sql(model, rows, with_pk, alias):
    quote = connections[alias].ops.quote_name
    fields = _fields(model, with_pk)
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names only
        f"VALUES {', '.join([row] * rows)} RETURNING {quote(model._meta.pk.column)}"
    )
