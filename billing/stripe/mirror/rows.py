"""The mirror's raw row access: row-value lookups and locks by (account, Stripe id), in one statement where the
ORM would need one condition per account (its cost to build exceeded the query's)."""

from collections.abc import Iterable

from django.db import connection

from billing.models import Customer


def pairs_in(model, field: str, pairs: Iterable[tuple]) -> list[tuple[str, list]]:
    """`(account, <field>) IN (VALUES ...)` for (account pk, value) pairs, as (SQL, params) chunks within the
    backend's parameter limit; none when no pair carries a value. A row-value comparison (PostgreSQL, and
    SQLite since 3.15): Django's Q needs one condition per account, whose building cost more than the query."""
    account = model._meta.get_field("account")
    pairs = sorted({(account_pk, value) for account_pk, value in pairs if value})
    step = (connection.features.max_query_params or 2 * len(pairs) or 2) // 2
    columns = f"({connection.ops.quote_name(account.column)}, {connection.ops.quote_name(field)})"
    chunks = []
    for start in range(0, len(pairs), step):
        chunk = pairs[start : start + step]
        params = [p for account_pk, value in chunk for p in (account.get_db_prep_value(account_pk, connection), value)]
        chunks.append((f"{columns} IN (VALUES {', '.join(['(%s, %s)'] * len(chunk))})", params))
    return chunks


def select_rows(model, columns: list[str], conditions: list[tuple[str, list]], *, lock: bool = False) -> list[tuple]:
    """Rows of `model` matching any of the conditions, as tuples of `columns` (account pk first, as a Python
    value), in (account, Stripe id) order; `lock` locks them (see _lock) until the transaction ends. One
    statement, unless the parameters exceed the backend's limit (SQLite, which has no row locks to order)."""
    if not conditions:
        return []
    limit = connection.features.max_query_params
    statements, where, params = [], [], []
    for sql, values in conditions:
        if where and limit and len(params) + len(values) > limit:
            statements.append((where, params))
            where, params = [], []
        where.append(sql)
        params += values
    statements.append((where, params))
    qn = connection.ops.quote_name
    suffix = ""
    if lock and connection.features.has_select_for_update:
        suffix = " " + connection.ops.for_update_sql(no_key=connection.features.has_select_for_no_key_update)
    account = model._meta.get_field("account")
    rows = []
    with connection.cursor() as cursor:
        for where, params in statements:
            cursor.execute(
                f"SELECT {', '.join(qn(c) for c in columns)} FROM {qn(model._meta.db_table)}"
                f" WHERE {' OR '.join(where)} ORDER BY {qn(account.column)}, {qn('stripe_id')}{suffix}",
                params,
            )
            rows += [(account.target_field.to_python(row[0]), *row[1:]) for row in cursor.fetchall()]
    return rows


def customer_pks_by_account(pairs: Iterable[tuple]) -> dict[tuple, int]:
    """(account pk, customer's Stripe id) → the mirrored customer's pk, in one query."""
    rows = select_rows(Customer, ["account_id", "stripe_id", "id"], pairs_in(Customer, "stripe_id", pairs))
    return {(account_pk, stripe_id): pk for account_pk, stripe_id, pk in rows}


def customer_pks(account, customer_ids: Iterable[str]) -> dict[str, int]:
    found = customer_pks_by_account((account.pk, cid) for cid in customer_ids)
    return {stripe_id: pk for (_, stripe_id), pk in found.items()}
