"""Bulk SQL that runs on both databases: rows as array parameters, sent apart from the SQL.

Shared by callbacks and profiles: the callback path and profile imports write thousands of rows
per request. These helpers keep that to one statement per table whatever the row count:
`rows_source` turns rows into a subquery (``unnest`` of typed arrays on PostgreSQL,
``json_each`` on SQLite), `bound_cursor` sends the parameters in binary, and `model_defaults`
fills the columns a statement does not set the way a new model instance would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import psycopg
from django.db import connection, models


def bound_cursor():
    """A cursor that sends the parameters apart from the SQL on PostgreSQL.

    Django's psycopg cursors bind client-side: a thousand-element array becomes SQL text that
    psycopg escapes and PostgreSQL parses again, which costs more than running the statement.
    Bound server-side, the arrays travel in binary; results come back in binary too, so
    timestamps are read by psycopg's C loader rather than parsed from text in Python. The
    cursor goes through `_prepare_cursor`, the (private) step `connection.cursor()` itself ends
    with, so Django's wrappers stay on: the queries are still logged, counted and their errors
    translated.
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    cursor.format = psycopg.pq.Format.BINARY
    return connection._prepare_cursor(cursor)


def table_name(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def adapter():
    """How row values travel: as they are to PostgreSQL, as Django's text forms to SQLite."""
    if connection.vendor == "postgresql":
        return _as_is
    return as_sqlite_text


def _as_is(value):
    return value


def as_sqlite_text(value):
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def rows_source(columns: Sequence[tuple[str, str]], rows: Iterable[tuple]) -> tuple[str, list]:
    """A subquery yielding `rows` as columns named by `columns` (name, PostgreSQL type).

    PostgreSQL: ``unnest`` of one typed array parameter per column. SQLite: ``json_each`` over
    one JSON parameter holding every row. Either way the query text does not grow with rows.
    """
    rows = list(rows)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{pg_type}[]" for _name, pg_type in columns)
        names = ", ".join(name for name, _type in columns)
        params = [list(column) for column in zip(*rows, strict=True)] or [[] for _ in columns]
        return f"SELECT * FROM unnest({arrays}) AS u({names})", params  # noqa: S608
    selects = ", ".join(
        f"json_extract(value, '$[{i}]') AS {name}" for i, (name, _type) in enumerate(columns)
    )
    return f"SELECT {selects} FROM json_each(%s)", [json.dumps(rows)]  # noqa: S608


def model_defaults(
    model: type[models.Model], *, exclude: set[str], now: datetime
) -> tuple[list[str], list]:
    """Column names and database values of every other field, as a new instance has them.

    Bulk inserts fill the columns they do not set from the model's own defaults, so a field
    added to the model later does not break them.
    """

    def default(model_field: models.Field, instance: models.Model):
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False):
            return now
        return model_field.pre_save(instance, add=True)

    return _columns(model(), exclude, default)


def insert_values(instance: models.Model) -> tuple[list[str], list]:
    """Column names and database values of an unsaved `instance`, as `save()` inserts them."""
    return _columns(instance, set(), lambda model_field, row: model_field.pre_save(row, add=True))


def _columns(instance: models.Model, exclude: set[str], value_of) -> tuple[list[str], list]:
    """Every concrete column but the primary key and `exclude`, with `value_of` its value."""
    names, values = [], []
    for model_field in instance._meta.concrete_fields:
        if model_field.primary_key or model_field.name in exclude:
            continue
        names.append(connection.ops.quote_name(model_field.column))
        values.append(model_field.get_db_prep_save(value_of(model_field, instance), connection))
    return names, values


def delete_in_chunks(queryset: models.QuerySet, chunk: int = 10_000) -> int:
    """Delete `queryset`'s rows `chunk` at a time, each chunk its own statement; how many.

    Pruning a backlog this way never holds locks or a snapshot for long while writes go on.
    """
    model = queryset.model
    deleted = 0
    while True:
        batch = model.objects.filter(pk__in=queryset.values("pk")[:chunk]).only("pk")
        count = batch.delete()[1].get(model._meta.label, 0)
        deleted += count
        if count < chunk:
            return deleted
