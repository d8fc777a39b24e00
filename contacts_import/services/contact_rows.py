"""Contacts read and written as plain rows (dicts) in bulk, for the import's pages: no model instance per
contact, and on PostgreSQL one statement per page for the inserts and one for the updates, the page's rows sent
as one JSON parameter (`jsonb_to_recordset`), which is what makes an import an order of magnitude faster than a
find and a save per customer (bench/import.py). SQLite, the development default, goes through the ORM's bulk
methods.

A row holds `id` (absent for a new contact), `type`, the SCALARS and `custom_fields`; written rows also
`old_field_values`."""

import json

from django.db import connection
from django.db.models import Q, QuerySet

from contacts_import import mapping
from contacts_import.models import Contact

SCALARS = (
    "email",
    "email_domain",
    "first_name",
    "last_name",
    "business_name",
    "phone",
    *(f"{kind}_{part}" for kind in mapping.CONTACT_WHOLE for part in mapping.ADDRESS_PARTS),
    "stripe_customer_id",
)
READ = ("id", "type", *SCALARS, "custom_fields")
# The columns of a written row as PostgreSQL reads them from the page's JSON (`jsonb_to_recordset`): the whole page
# goes as one parameter, so nothing is dumped per value in Python.
RECORD = ", ".join(['"type" text', *(f'"{name}" text' for name in SCALARS), '"custom_fields" jsonb'])
TABLE = Contact._meta.db_table


def contact_rows(queryset: QuerySet) -> list[dict]:
    return [dict(zip(READ, values, strict=True)) for values in queryset.values_list(*READ)]


def contact_rows_matching(*, account_id, contact_type: str, stripe_ids: list[str], emails: list[str]) -> list[dict]:
    """The account's contacts linked to one of `stripe_ids`, and those of `contact_type` with one of `emails`: one
    query, two index scans. Each `<> ''` spells its partial unique index's condition, so the planner may use it.
    On PostgreSQL each list goes as one array parameter (`= ANY`), not one parameter per value: the statement's
    text is the same for every page, and nothing is parsed or dumped per value."""
    if connection.vendor != "postgresql":
        return contact_rows(
            Contact.objects.filter(account_id=account_id).filter(
                (Q(stripe_customer_id__in=stripe_ids) & ~Q(stripe_customer_id=""))
                | (Q(type=contact_type, email__in=emails) & ~Q(email=""))
            )
        )
    columns = ", ".join(f'"{name}"' for name in READ)
    sql = (
        f'SELECT {columns} FROM "{TABLE}" WHERE "account_id" = %s AND ('
        '("stripe_customer_id" = ANY(%s::text[]) AND "stripe_customer_id" <> \'\') OR '
        '("type" = %s AND "email" = ANY(%s::text[]) AND "email" <> \'\'))'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [account_id, stripe_ids, contact_type, emails])
        rows = cursor.fetchall()
    custom = READ.index("custom_fields")
    return [
        dict(zip(READ, (*values[:custom], _json(values[custom]), *values[custom + 1 :]), strict=True))
        for values in rows
    ]


def _json(value):
    # psycopg answers jsonb already decoded; a text answer (a driver without the jsonb loader) is decoded here.
    return json.loads(value) if isinstance(value, str) else value


def contact_rows_insert(rows: list[dict], *, account_id, user_id, now) -> None:
    """New contacts (source `stripe`, owned and created by `user_id`)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Contact.objects.bulk_create(
            Contact(
                account_id=account_id,
                source=Contact.Source.STRIPE,
                owner_id=user_id,
                created_by_id=user_id,
                old_field_values={},
                **{column: row[column] for column in ("type", *SCALARS, "custom_fields")},
            )
            for row in rows
        )
        return
    names = ", ".join(f'"{name}"' for name in ("type", *SCALARS, "custom_fields"))
    sql = (
        f'INSERT INTO "{TABLE}" ("account_id", "source", "owner_id", "created_by_id", "old_field_values", '
        f'"created_at", "updated_at", {names}) '
        f"SELECT %s, %s, %s, %s, '{{}}'::jsonb, %s, %s, {names} FROM jsonb_to_recordset(%s::jsonb) AS v({RECORD})"
    )
    params = [account_id, Contact.Source.STRIPE, user_id, user_id, now, now, json.dumps(rows)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def contact_rows_update(rows: list[dict], *, now) -> None:
    """Existing contacts (`id`), every SCALAR, `custom_fields` and `old_field_values` set from the row."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Contact.objects.bulk_update(
            [
                Contact(
                    id=row["id"],
                    updated_at=now,
                    old_field_values=row["old_field_values"],
                    **{column: row[column] for column in (*SCALARS, "custom_fields")},
                )
                for row in rows
            ],
            [*SCALARS, "custom_fields", "old_field_values", "updated_at"],
        )
        return
    assignments = ", ".join(f'"{name}" = v."{name}"' for name in (*SCALARS, "custom_fields", "old_field_values"))
    sql = (
        f'UPDATE "{TABLE}" AS c SET {assignments}, "updated_at" = %s '
        f'FROM jsonb_to_recordset(%s::jsonb) AS v("id" bigint, {RECORD}, "old_field_values" jsonb) WHERE c.id = v.id'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, json.dumps(rows)])
