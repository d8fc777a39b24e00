"""A page of mirror rows written as one `INSERT ... ON CONFLICT (account, stripe_id) DO UPDATE ... RETURNING`,
built from plain column values: no model instance per object, no ORM compilation.

Why not `bulk_create(update_conflicts=True)`: at 100 objects a page it spent more time in Python than the
database spent writing (a model instance per object, `get_db_prep_save` per field and row, and on PostgreSQL
the UNNEST arrays psycopg dumps element by element in Python): ~0.3 ms an object against the 0.1 ms the
sync has at Stripe's ceiling of 10,000 objects/s (docs/sync.md, "Performance"). Values here are converted by
their field only where the type needs it (dates, JSON, the account's UUID); the statement is the same SQL on
PostgreSQL and SQLite (3.35+: RETURNING).

The ordering guard is in the statement: with `guard=True` a row whose `last_event_created` is newer than the
page's is left as it is (`DO UPDATE ... WHERE`), under the row lock the upsert itself takes, so no SELECT ...
FOR UPDATE is needed first; RETURNING names the rows written, the ones skipped are absent.
"""

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, models

# Types whose values the mappers already give as the database wants them (str, int, bool, None).
_AS_IS = {
    "BigIntegerField",
    "BooleanField",
    "IntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
}
_TEXT = {"CharField", "TextField", "EmailField", "SlugField", "URLField"}


@dataclass(frozen=True)
class _Column:
    attname: str
    column: str
    default: Callable  # the field's get_default
    convert: Callable | None  # None: the value as it is


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[_Column, ...]
    by_name: dict  # field name or attname -> column name
    json_keys: tuple[str, ...]  # the column names, as json_populate_recordset reads them


def _text(value):
    return value if value is None or type(value) is str else str(value)


def _converter(field: models.Field, vendor: str) -> Callable | None:
    kind = field.get_internal_type()
    if kind in _AS_IS:
        return None
    if kind in _TEXT:
        return _text
    if vendor == "postgresql":
        # Values for json_populate_recordset: JSON as it is, the rest as PostgreSQL reads its text form.
        if kind == "JSONField":
            return None
        if kind == "DateTimeField":
            return _isoformat
        if kind == "ForeignKey" or kind == "UUIDField":
            return _text
    return functools.partial(_prep, field)


def _isoformat(value):
    return None if value is None else value.isoformat()


def _prep(field, value):
    return field.get_db_prep_save(value, connection)


@functools.cache
def _table(model: type[models.Model], vendor: str) -> _Table:
    # `vendor` is part of the key: converters and SQL belong to one backend (tests switch none mid-process,
    # but a cached converter must never outlive the connection type it was made for).
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = tuple(_Column(f.attname, f.column, f.get_default, _converter(f, vendor)) for f in fields)
    by_name = {}
    for f in fields:
        by_name[f.name] = by_name[f.attname] = f.column
    return _Table(model._meta.db_table, columns, by_name, tuple(c.column for c in columns))


def upsert_rows(model: type[models.Model], rows: Iterable[dict], *, update: list[str], guard: bool) -> list[str]:
    """Inserts each row (a dict of attname → Python value; absent columns take the field's default), or
    updates the `update` fields (names or attnames) of the row already there for its (account, stripe_id).
    `guard`: leave alone a row whose `last_event_created` is newer than the new one's. Rows are written in
    (account, stripe_id) order, the order every lock on the mirror is taken in. Returns the Stripe ids
    written."""
    table = _table(model, connection.vendor)
    values = []
    for row in sorted(rows, key=lambda r: (str(r["account_id"]), r["stripe_id"])):
        out = []
        for col in table.columns:
            value = row[col.attname] if col.attname in row else col.default()
            out.append(value if col.convert is None else col.convert(value))
        values.append(out)
    if not values:
        return []
    qn = connection.ops.quote_name
    names = ", ".join(qn(c.column) for c in table.columns)
    updates = [qn(table.by_name[name]) for name in update]
    target = qn(table.name)
    conflict = f"ON CONFLICT ({qn('account_id')}, {qn('stripe_id')})"
    if updates:
        conflict += " DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
        if guard:
            last = qn("last_event_created")
            conflict += f" WHERE {target}.{last} IS NULL OR {target}.{last} <= EXCLUDED.{last}"
    else:
        conflict += " DO NOTHING"
    returning = f"RETURNING {qn('stripe_id')}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The whole page as one JSON parameter, spread into columns by PostgreSQL: a short statement
            # (psycopg rewrites a long one's thousands of placeholders on every call: ~20 ms a page).
            page = json.dumps([dict(zip(table.json_keys, row, strict=True)) for row in values], default=str)
            cursor.execute(
                f"INSERT INTO {target} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{target}, %s::json)"
                f" {conflict} {returning}",
                [page],
            )
            return [stripe_id for (stripe_id,) in cursor.fetchall()]
        placeholder = "(" + ", ".join(["%s"] * len(table.columns)) + ")"
        per_statement = max(1, connection.features.max_query_params // len(table.columns))
        written = []
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            cursor.execute(
                f"INSERT INTO {target} ({names}) VALUES {', '.join([placeholder] * len(chunk))} {conflict} {returning}",
                [value for row in chunk for value in row],
            )
            written += [stripe_id for (stripe_id,) in cursor.fetchall()]
    return written
