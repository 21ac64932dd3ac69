"""New rows written with an INSERT built once, for the registration's locked part.

A registration holds its event's row lock from the seat count to the commit, and every
other registration for that event waits for it. ``Model.save()`` and ``bulk_create()``
spent most of that time in Python, building the INSERT; ``insert()`` writes the same rows
with a statement built once per model and number of rows, and reads the new primary keys
back with ``RETURNING`` (PostgreSQL, and SQLite from 3.35).

It does what saving a new, validated instance does for the models it is used with, and
no more: fields' ``pre_save`` (``auto_now``, ``auto_now_add``) and database preparation,
no signals (nothing in this project listens to them), no validation (call
``full_clean()`` first), no multi-table inheritance.
"""

import functools

from django.db import connections


def insert(objs, *, using="default"):
    """INSERT the new instances `objs` (of one model) in one statement; sets their pks."""
    if not objs:
        return objs
    model = type(objs[0])
    connection = connections[using]
    if not connection.features.can_return_rows_from_bulk_insert:
        return model._base_manager.db_manager(using).bulk_create(objs)
    fields = _fields(model)
    params = [
        field.get_db_prep_save(field.pre_save(obj, add=True), connection)
        for obj in objs
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(_sql(model, len(objs), connection.alias), params)
        pks = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = using
    return objs


def _fields(model):
    return [field for field in model._meta.concrete_fields if not field.primary_key]


@functools.cache
def _sql(model, rows, alias):
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(field.column) for field in _fields(model))
    row = "(" + ", ".join(["%s"] * len(_fields(model))) + ")"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names only
        f"VALUES {', '.join([row] * rows)} RETURNING {quote(model._meta.pk.column)}"
    )
