"""Bulk inserts through COPY on PostgreSQL, for writes of tens of thousands of rows (config imports, their audit).

Django 5.2's bulk_create sends each column as one array in text form, built in Python element by element; for a
20,000-tag import with its 45,000 audit records that was most of the import's time. COPY takes the rows as they
are (psycopg formats them in C), about four times faster. No signals are sent and no primary keys come back, as
with bulk_create on some backends; callers that need the keys read them back by a natural key. Elsewhere (the
SQLite demo) this is bulk_create.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import islice

from django.db import connection, models
from django.utils import timezone

__all__ = ["bulk_insert", "bulk_insert_ignoring_conflicts", "copy_rows"]


def _columns(model) -> list[tuple]:
    """(field, how) per inserted column: "now" (auto_now(_add) timestamps), "datetime", "pre_save" (file names
    and the like), "json" or a plain read."""
    auto = (models.AutoField, models.BigAutoField, models.SmallAutoField)
    out = []
    for f in model._meta.concrete_fields:
        if f.primary_key and isinstance(f, auto):
            continue  # left to its sequence
        if isinstance(f, models.JSONField):
            out.append((f, "json"))
        elif isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
            out.append((f, "now"))
        elif type(f) is models.DateTimeField:
            out.append((f, "datetime"))
        elif type(f).pre_save is not models.Field.pre_save or getattr(f, "auto_now", False):
            out.append((f, "pre_save"))
        else:
            out.append((f, "plain"))
    return out


def _row(obj, columns, now: datetime) -> list:
    row = []
    for f, how in columns:
        if how == "plain":
            value = getattr(obj, f.attname)
        elif how == "json":
            value = getattr(obj, f.attname)
            # NULL for a nullable field's None (as Django stores it), JSON text otherwise: jsonb parses it.
            value = None if value is None and f.null else json.dumps(value, cls=f.encoder)
        elif how == "now":
            # One timestamp for the whole insert (bulk_create asks the clock per row and field), set on the
            # instance as pre_save(add=True) does.
            value = now
            setattr(obj, f.attname, now)
        elif how == "datetime":
            value = getattr(obj, f.attname)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                value = f.get_db_prep_save(value, connection)  # naive or text: Django's conversion and warning
            # An aware datetime goes as it is: psycopg sends it as timestamptz, as get_db_prep_save would.
        else:
            # file names and other fields with their own pre_save: as save() and bulk_create prepare them.
            value = f.get_db_prep_save(f.pre_save(obj, add=True), connection)
        row.append(value)
    return row


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence], *, batch_size: int = 2000) -> None:
    """COPY ready rows (Python values psycopg adapts, JSON as text) into `table`'s `columns` (PostgreSQL only)."""
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    sql = f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN"
    rows = iter(rows)
    with connection.cursor() as cursor:
        # One COPY per batch: a statement of 20,000 rows could outlast the web's statement timeout.
        while batch := list(islice(rows, batch_size)):
            with cursor.cursor.copy(sql) as copy:
                for row in batch:
                    copy.write_row(row)


def bulk_insert(model: type[models.Model], objs: Sequence[models.Model], *, batch_size: int = 2000) -> None:
    """Insert unsaved `objs` of `model` by COPY (PostgreSQL) or bulk_create (elsewhere), `batch_size` at a time."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=batch_size)
        return
    columns = _columns(model)
    now = timezone.now()
    copy_rows(model._meta.db_table, [f.column for f, _ in columns], (_row(obj, columns, now) for obj in objs),
              batch_size=batch_size)


def bulk_insert_ignoring_conflicts(template: models.Model, columns: dict[str, list], *,
                                   batch_size: int = 10000) -> None:
    """Insert rows equal to unsaved `template` but for `columns` (attname → one value per row), skipping rows
    that hit a unique constraint (another process made them first), like bulk_create(ignore_conflicts=True).

    On PostgreSQL one INSERT ... SELECT FROM unnest(arrays) per batch: the template's values are prepared once,
    not once per row and column as bulk_create does (5,000 alarms made by a config import).
    """
    model = type(template)
    count = len(next(iter(columns.values()), []))
    if not count:
        return
    if connection.vendor != "postgresql":
        rows = []
        for i in range(count):
            obj = copy.copy(template)
            for attname, values in columns.items():
                setattr(obj, attname, values[i])
            rows.append(obj)
        model.objects.bulk_create(rows, ignore_conflicts=True, batch_size=batch_size)
        return
    spec = _columns(model)
    fields = [f for f, _ in spec]
    fixed = [v for f, v in zip(fields, _row(template, spec, timezone.now()), strict=True) if f.attname not in columns]
    varying = [f for f in fields if f.attname in columns]
    qn = connection.ops.quote_name
    # Identifiers from the model's own metadata only; every value is a parameter.
    select = ", ".join(f"u.v{varying.index(f)}" if f in varying else f"%s::{f.db_type(connection)}" for f in fields)
    unnest = ", ".join(f"%s::{f.db_type(connection)}[]" for f in varying)
    alias = ", ".join(f"v{i}" for i in range(len(varying)))
    sql = (f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
           f"SELECT {select} FROM unnest({unnest}) AS u({alias}) ON CONFLICT DO NOTHING")
    with connection.cursor() as cursor:
        for start in range(0, count, batch_size):
            cursor.execute(sql, [*fixed, *(columns[f.attname][start:start + batch_size] for f in varying)])
