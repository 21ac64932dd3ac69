"""Rows written with INSERTs built once, and read under a row lock, for the
registration's locked part.

A registration holds its event's row lock from the seat count to the commit, and every
other registration for that event waits for it. ``Model.save()`` and ``bulk_create()``
spent most of that time in Python, building the INSERT; ``insert()`` writes the same rows
with a statement built once per model and number of rows, and reads the new primary keys
back with ``RETURNING`` (PostgreSQL, and SQLite from 3.35). On PostgreSQL ``insert_all()``
sends the INSERTs of several models in one round trip, which is what the lock waits for
most under load; ``reserve_pk()`` gives a new row its key before the lock, so that the
rows pointing at it can go in the same round trip.

It does what saving a new, validated instance does for the models it is used with, and
no more: fields' ``pre_save`` (``auto_now``, ``auto_now_add``) and database preparation,
no signals (nothing in this project listens to them), no validation (call
``full_clean()`` first), no multi-table inheritance.

``lock()`` reads one row with ``SELECT ... FOR UPDATE``, built once per model; a raw
queryset spent more time working out its columns and converters than the query took.
"""

import functools

from django.db import connections


def insert(objs, *, using="default"):
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


def insert_all(*groups, using="default", then=()):
    """INSERT several groups of new instances (a list of one model each), in this order:
    in one round trip on PostgreSQL, one statement per group elsewhere. Rows that point
    at a row of an earlier group need its pk already (``reserve_pk``).

    `then`: further statements (sql, params) that return no rows, sent after the INSERTs
    in the same round trip where the database allows (``pagecache.new_generation_statement``).
    """
    groups = [objs for objs in groups if objs]
    then = [statement for statement in then if statement]
    connection = connections[using]
    if len(groups) + len(then) < 2 or not _several_statements_at_once(connection):
        for objs in groups:
            insert(objs, using=using)
        if then:
            with connection.cursor() as cursor:
                for sql, params in then:
                    cursor.execute(sql, params)
        return groups
    statements, params = [], []
    for objs in groups:
        sql, group_params = _statement(objs, connection)
        statements.append(sql)
        params.extend(group_params)
    for sql, statement_params in then:
        statements.append(sql)
        params.extend(statement_params)
    with connection.cursor() as cursor:
        cursor.execute("; ".join(statements), params)
        for index, objs in enumerate(groups):
            if index:
                cursor.nextset()
            _set_pks(objs, cursor.fetchall(), using)
    return groups


def reserve_pk(obj, *, using="default"):
    """Give the new instance `obj` its primary key from its table's sequence now, where
    ``insert_all`` sends several INSERTs at once (PostgreSQL); elsewhere the key comes
    with the insert, as usual."""
    connection = connections[using]
    if obj.pk is None and _several_statements_at_once(connection):
        opts = obj._meta
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s))",
                [connection.ops.quote_name(opts.db_table), opts.pk.column],
            )
            obj.pk = cursor.fetchone()[0]
    return obj


def lock(model, pk, *, using="default"):
    """The instance of `model` with primary key `pk`, read afresh and locked until the
    end of the transaction (where the database supports ``FOR UPDATE``); None when
    there is no such row."""
    connection = connections[using]
    sql, attnames, converters = _lock_sql(model, using)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, expression, field_converters in converters:
        for converter in field_converters:
            values[index] = converter(values[index], expression, connection)
    return model.from_db(using, attnames, values)


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
