"""The one way Stripe data gets into the mirror (the account's own Stripe, SPEC §0): pages in bulk for the
sync, single objects for webhooks. Nothing here calls Stripe.

Public API:
- `OBJECT_NAMES`, `is_mirrored(object_name)`, `model_for(object_name)`;
- `upsert_objects(account, object_name, objects, *, seen_in_run=None, fetched_at=None, payout=None) -> int`;
- `apply_event_objects(items) -> the items applied` (webhook events' objects, one event's or a batch's), and
  `apply_event_object(account, obj, *, event_id, event_created, deleted=False) -> bool` for one;
- `mark_unseen_deleted(account, object_name, *, pass_id, since) -> int`;
- `link_customers(account) -> int`.

Query budget: a page costs a constant number of queries whatever its size (customer ids resolved once per
page, one INSERT ... ON CONFLICT DO UPDATE per table, split only by SQLite's parameter limit).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from billing.models import (
    BalanceTransaction,
    Charge,
    Customer,
    Dispute,
    Invoice,
    PaymentMethod,
    Payout,
    Price,
    Product,
    Refund,
    Subscription,
    SubscriptionItem,
)
from billing.models.base import StripeObject
from billing.stripe import mappers

Obj = dict

# Never rewritten by an upsert: the identity of the row.
_IDENTITY = {"id", "account", "stripe_id"}
# Written only by the callers that own them (see upsert_objects' arguments).
_ORDERING = {"last_event_created", "last_event_id"}


class UnsupportedObject(ValueError):
    """An object type the mirror does not keep (the caller decides whether that is an error)."""


@dataclass(frozen=True)
class ObjectType:
    model: type[StripeObject]
    columns: Callable[[Obj], Obj]
    customer_fk: bool = False
    # Called after the parents are written, with (account pk, object) pairs: children(pairs, seen_in_run=, now=).
    children: Callable | None = None

    def update_fields(self, *, with_seen: bool, with_ordering: bool, extra: Iterable[str] = ()) -> list[str]:
        names = [f.name for f in self.model._meta.concrete_fields if f.name not in _IDENTITY]
        skip = set() if with_ordering else set(_ORDERING)
        if not with_seen:
            skip.add("seen_in_run")
        if "payout_stripe_id" in names and "payout_stripe_id" not in extra:
            skip.add("payout_stripe_id")
        return [name for name in names if name not in skip]


def _lock(queryset):
    # NO KEY UPDATE: does not block the KEY SHARE locks other transactions take when they insert rows pointing
    # at this one (a subscription referencing a customer being updated), so the two never deadlock on it.
    from django.db import connection

    return queryset.select_for_update(no_key=connection.features.has_select_for_no_key_update)


def _pairs_in(model, field: str, pairs: Iterable[tuple]) -> list[tuple[str, list]]:
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


def _rows(model, columns: list[str], conditions: list[tuple[str, list]], *, lock: bool = False) -> list[tuple]:
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


def _customer_pks_by_account(pairs: Iterable[tuple]) -> dict[tuple, int]:
    """(account pk, customer's Stripe id) → the mirrored customer's pk, in one query."""
    rows = _rows(Customer, ["account_id", "stripe_id", "id"], _pairs_in(Customer, "stripe_id", pairs))
    return {(account_pk, stripe_id): pk for account_pk, stripe_id, pk in rows}


def _customer_pks(account, customer_ids: Iterable[str]) -> dict[str, int]:
    found = _customer_pks_by_account((account.pk, cid) for cid in customer_ids)
    return {stripe_id: pk for (_, stripe_id), pk in found.items()}


def _upsert_subscription_items(parents: list[tuple[int, Obj]], *, seen_in_run, now):
    """Items are replaced with what Stripe sent, for (account pk, subscription object) pairs of any accounts:
    upserted in bulk, and those gone from a subscription removed. A subscription whose item list is truncated
    (`has_more`) keeps the items not sent (the sync fetches the rest before calling this)."""
    parents = [(a, obj) for a, obj in parents if not obj.get("deleted") and isinstance(obj.get("items"), dict)]
    if not parents:
        return
    parents_ids = [(a, obj["id"]) for a, obj in parents]
    found = _rows(Subscription, ["account_id", "stripe_id", "id"], _pairs_in(Subscription, "stripe_id", parents_ids))
    pks = {(a, stripe_id): pk for a, stripe_id, pk in found}
    rows, complete, sent = [], {}, {}
    for account_pk, obj in parents:
        pk = pks.get((account_pk, obj["id"]))
        if pk is None:
            continue
        for columns in mappers.subscription_items(obj):
            row = SubscriptionItem(account_id=account_pk, subscription_id=pk, synced_at=now, **columns)
            row.seen_in_run = seen_in_run
            rows.append(row)
            sent.setdefault(account_pk, []).append(row.stripe_id)
        if not obj["items"].get("has_more"):
            complete.setdefault(account_pk, []).append(pk)
    if rows:
        SubscriptionItem.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["account", "stripe_id"],
            update_fields=_ITEM_TYPE.update_fields(with_seen=seen_in_run is not None, with_ordering=False),
        )
    # An item's id is unique within its account, so an item sent for any subscription of the account is kept
    # (it may have moved between subscriptions: the upsert moved it).
    gone = Q(pk__in=[])
    for account_pk, subscription_pks in complete.items():
        gone |= Q(account_id=account_pk, subscription_id__in=subscription_pks) & ~Q(
            stripe_id__in=sent.get(account_pk, [])
        )
    if complete:
        SubscriptionItem.objects.filter(gone).delete()


_ITEM_TYPE = ObjectType(SubscriptionItem, lambda obj: {})

_PRICE = ObjectType(Price, mappers.price)
_TYPES: dict[str, ObjectType] = {
    "customer": ObjectType(Customer, mappers.customer),
    "payment_method": ObjectType(PaymentMethod, mappers.payment_method, customer_fk=True),
    "product": ObjectType(Product, mappers.product),
    "price": _PRICE,
    "plan": _PRICE,  # legacy plans (localstripe, /v1/plans) share ids with prices: one model
    "subscription": ObjectType(
        Subscription, mappers.subscription, customer_fk=True, children=_upsert_subscription_items
    ),
    "invoice": ObjectType(Invoice, mappers.invoice, customer_fk=True),
    "charge": ObjectType(Charge, mappers.charge, customer_fk=True),
    "refund": ObjectType(Refund, mappers.refund),
    "dispute": ObjectType(Dispute, mappers.dispute),
    "payout": ObjectType(Payout, mappers.payout),
    "balance_transaction": ObjectType(BalanceTransaction, mappers.balance_transaction),
}
OBJECT_NAMES = frozenset(_TYPES)


def is_mirrored(object_name: str | None) -> bool:
    return object_name in _TYPES


def object_type(object_name: str | None) -> ObjectType:
    try:
        return _TYPES[object_name]
    except KeyError:
        raise UnsupportedObject(f"The mirror does not keep Stripe {object_name!r} objects.") from None


def model_for(object_name: str) -> type[StripeObject]:
    return object_type(object_name).model


def _build(otype: ObjectType, account, obj: Obj, *, customer_pks: dict, now: datetime, extra: dict):
    columns = otype.columns(obj)
    row = otype.model(
        account_id=account.pk,
        stripe_id=obj["id"],
        data=obj,
        deleted=bool(obj.get("deleted")),
        synced_at=now,
        **mappers.common(obj),
        **columns,
        **extra,
    )
    if otype.customer_fk:
        row.customer_id = customer_pks.get(columns["customer_stripe_id"])
    return row


def upsert_objects(
    account,
    object_name: str,
    objects: list[Obj],
    *,
    seen_in_run: int | None = None,
    fetched_at: int | None = None,
    payout: str | None = None,
) -> int:
    """Writes a page of Stripe objects of one type (for prices, "price" and "plan" objects may mix),
    creating or updating each by (account, Stripe id), children included. Returns how many were written.

    `seen_in_run` stamps the rows with a sync pass (see mark_unseen_deleted). `fetched_at` (epoch seconds) is
    when the page was read from Stripe: a row that a webhook event newer than that has already updated is left
    alone, and the others are stamped with it so that an event older than the page cannot overwrite it later.
    `payout` names the payout a page of balance transactions was listed for."""
    otype = object_type(object_name)
    by_id = {obj["id"]: obj for obj in objects if isinstance(obj, dict) and obj.get("id")}
    if not by_id:
        return 0
    model = otype.model
    now = timezone.now()
    extra = {"payout_stripe_id": payout} if payout else {}
    with transaction.atomic(savepoint=False):
        if fetched_at is not None:
            held = _lock(model.objects.filter(account=account, stripe_id__in=list(by_id))).values_list(
                "stripe_id", "last_event_created"
            )
            for stripe_id, last_event_created in held:
                if last_event_created is not None and last_event_created > fetched_at:
                    del by_id[stripe_id]
            if not by_id:
                return 0
        page = list(by_id.values())
        customer_pks = (
            _customer_pks(account, (mappers.ref(obj.get("customer")) for obj in page)) if otype.customer_fk else {}
        )
        rows = [_build(otype, account, obj, customer_pks=customer_pks, now=now, extra=extra) for obj in page]
        for row in rows:
            row.seen_in_run = seen_in_run
            row.last_event_created = fetched_at
        update_fields = otype.update_fields(
            with_seen=seen_in_run is not None, with_ordering=fetched_at is not None, extra=extra
        )
        model.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["account", "stripe_id"], update_fields=update_fields
        )
        if otype.children:
            otype.children([(account.pk, obj) for obj in page], seen_in_run=seen_in_run, now=now)
    return len(rows)


def is_newer(event_created: int, event_id: str, row_created: int | None, row_event_id: str | None) -> bool:
    """Stripe does not deliver events in order: the one created later wins, ties broken by event id."""
    if row_created is None:
        return True
    return (int(event_created), event_id or "") > (int(row_created), row_event_id or "")


def apply_event_object(account, obj: dict, *, event_id: str, event_created: int, deleted: bool = False) -> bool:
    """Applies one object from a webhook event (apply_event_objects with one item); returns whether it applied."""
    return bool(apply_event_objects([EventObject(account, obj, event_id, event_created, deleted)]))


@dataclass(frozen=True)
class EventObject:
    """One object carried by a webhook event, for apply_event_objects."""

    account: object  # Account
    obj: Obj
    event_id: str
    event_created: int
    deleted: bool = False


def apply_event_objects(items: list[EventObject]) -> list[EventObject]:
    """Applies the objects carried by webhook events (one event, or a worker's batch of events of any accounts)
    where each event is newer than what the row holds; answers the items that applied. Among the items about
    one object only the newest counts (Stripe does not deliver in order).

    - A first event about an object creates its row: rows are inserted if absent before the lock, so that the
      lock always has a row to hold, even for two concurrent first events about one object.
    - A deletion (`deleted`, or Stripe's stub `{"id", "object", "deleted": true}`) marks the row deleted,
      never removes it; a stub keeps the columns the row had.
    - A subscription's items are replaced with those it carries.
    - Rows waiting for a customer that arrives here are linked to it.

    Costs a few statements per table whatever the number of items. Rows are locked in one order (table,
    account, Stripe id) until the transaction (the caller's, or its own) ends, so two batches about the same
    objects apply one after the other without deadlocking. Raises UnsupportedObject."""
    newest: dict[type, dict[tuple, EventObject]] = {}
    for item in items:
        otype = object_type(item.obj.get("object"))
        if not item.obj.get("id"):
            raise UnsupportedObject("A Stripe object without an id cannot be mirrored.")
        key = (item.account.pk, item.obj["id"])
        held = newest.setdefault(otype.model, {}).get(key)
        if held is None or is_newer(item.event_created, item.event_id, held.event_created, held.event_id):
            newest[otype.model][key] = item
    now = timezone.now()
    applied: list[EventObject] = []
    arrived: set[tuple] = set()  # (account pk, Stripe id) of customers mirrored for the first time here
    # No savepoint of its own: a webhook handler already runs in one (billing/webhooks/processing.py), and an
    # error here must undo the handler's whole effect anyway; called outside a transaction, this opens one.
    with transaction.atomic(savepoint=False):
        for model in _lock_order(newest):
            wanted = newest.get(model, {})
            state, waiting_pks = _locked_state(model, wanted, arrived if model in _CUSTOMER_DEPENDENTS else set())
            missing = sorted(key for key in wanted if key not in state)
            if missing:
                model.objects.bulk_create(
                    [model(account_id=account_pk, stripe_id=stripe_id) for account_pk, stripe_id in missing],
                    ignore_conflicts=True,
                )
                state.update(_locked_state(model, {key: wanted[key] for key in missing}, set())[0])
            newer = {
                key: item
                for key, item in wanted.items()
                if is_newer(item.event_created, item.event_id, state[key].last_event_created, state[key].last_event_id)
            }
            full = [item for item in newer.values() if not item.obj.get("deleted")]
            if full:
                _write_newer(model, full, now)
                children = object_type(full[0].obj.get("object")).children
                if children:
                    children([(item.account.pk, item.obj) for item in full], seen_in_run=None, now=now)
            for key, item in newer.items():
                if item.obj.get("deleted"):
                    _write_stub(model, state[key], item, now)
            if waiting_pks:
                _link_customers(model, waiting_pks)
            if model is Customer:
                arrived = {key for key in newer if state[key].placeholder}
            applied += newer.values()
    return applied


def _lock_order(newest: dict) -> list:
    """The tables to visit, in the one order every batch locks rows in: customers first (the rows that were
    waiting for a customer mirrored here are linked to it in their own table's turn), then by table name."""
    models = set(newest)
    if Customer in models:
        models.update(_CUSTOMER_DEPENDENTS)
    return sorted(models, key=lambda model: (model is not Customer, model._meta.db_table))


def _link_customers(model, pks: list[int]) -> None:
    """Fills the customer of rows written before their customer was mirrored (rows locked by the caller)."""
    customer_pk = Customer.objects.filter(account=OuterRef("account"), stripe_id=OuterRef("customer_stripe_id"))
    model.objects.filter(pk__in=pks).update(customer=Subquery(customer_pk.values("pk")[:1]))


@dataclass(frozen=True)
class _RowState:
    pk: int
    synced_at: datetime | None
    last_event_created: int | None
    last_event_id: str

    @property
    def placeholder(self) -> bool:
        """Inserted by a first event and not written yet: every write stamps `synced_at`, the insert does not."""
        return self.synced_at is None


def _locked_state(model, wanted: dict[tuple, EventObject], arrived: set[tuple]) -> tuple[dict, list[int]]:
    """Locks, in (account, Stripe id) order and in one statement, the rows of `wanted` that exist and the rows
    still waiting for a customer among `arrived` ((account pk, customer Stripe id) pairs). Answers (account pk,
    Stripe id) → _RowState for the first, and the pks of the second."""
    columns = ["account_id", "stripe_id", "id", "synced_at", "last_event_created", "last_event_id"]
    conditions = _pairs_in(model, "stripe_id", wanted)
    if arrived:
        columns += ["customer_id", "customer_stripe_id"]
        conditions += [
            (f"({sql} AND customer_id IS NULL)", params)
            for sql, params in _pairs_in(model, "customer_stripe_id", arrived)
        ]
    state, waiting = {}, []
    for account_pk, stripe_id, pk, synced_at, last_created, last_id, *customer in _rows(
        model, columns, conditions, lock=True
    ):
        if (account_pk, stripe_id) in wanted:
            state[(account_pk, stripe_id)] = _RowState(pk, synced_at, last_created, last_id)
        if customer and customer[0] is None and (account_pk, customer[1]) in arrived:
            waiting.append(pk)
    return state, waiting


def _write_newer(model, items: list[EventObject], now) -> None:
    """One INSERT ... ON CONFLICT DO UPDATE for the items (rows that exist and are locked)."""
    otype = object_type(items[0].obj.get("object"))
    customer_pks: dict = {}
    if otype.customer_fk:
        found = _customer_pks_by_account((i.account.pk, mappers.ref(i.obj.get("customer"))) for i in items)
        for (account_pk, stripe_id), pk in found.items():
            customer_pks.setdefault(account_pk, {})[stripe_id] = pk
    rows = []
    for item in items:
        otype_of_item = object_type(item.obj.get("object"))  # price and plan objects share a table
        row = _build(
            otype_of_item, item.account, item.obj, customer_pks=customer_pks.get(item.account.pk, {}), now=now, extra={}
        )
        row.deleted = item.deleted
        row.last_event_created, row.last_event_id = int(item.event_created), item.event_id
        rows.append(row)
    model.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["account", "stripe_id"],
        update_fields=otype.update_fields(with_seen=False, with_ordering=True),
    )


def _write_stub(model, row: _RowState, item: EventObject, now) -> None:
    """A deletion stub (Stripe's `{"id", "object", "deleted": true}`): the row keeps its columns and is marked
    deleted; a row that never had data gets the stub as its data."""
    changes = {"deleted": True, "last_event_created": int(item.event_created), "last_event_id": item.event_id}
    if row.placeholder:
        changes.update(data=item.obj, livemode=bool(item.obj.get("livemode", False)))
    model.objects.filter(pk=row.pk).update(synced_at=now, **changes)


_CUSTOMER_DEPENDENTS = [t.model for t in _TYPES.values() if t.customer_fk]


def link_customers(account) -> int:
    """Fills the customer foreign keys that could not be resolved when the row was written (its customer was
    not mirrored yet: resources sync in parallel). One UPDATE per table."""
    linked = 0
    for model in _CUSTOMER_DEPENDENTS:
        customer_pk = Customer.objects.filter(account=account, stripe_id=OuterRef("customer_stripe_id")).values("pk")
        linked += (
            model.objects.filter(account=account, customer__isnull=True)
            .exclude(customer_stripe_id="")
            .filter(customer_stripe_id__in=Customer.objects.filter(account=account).values("stripe_id"))
            .update(customer=Subquery(customer_pk[:1]))
        )
    return linked


def mark_unseen_deleted(account, object_name: str, *, pass_id: int, since: datetime) -> int:
    """After a complete sync pass: rows of this type the pass did not list were deleted in Stripe. Marked, not
    removed. Rows created in Stripe after the pass began, or changed by a webhook event since, may simply have
    appeared behind the pass's cursor: they are left alone. Stripe's clock counts whole seconds, so the second
    the pass began in counts as "after" (a deletion then waits for the next pass rather than risk a false one)."""
    since_epoch = int(since.timestamp())
    since_second = datetime.fromtimestamp(since_epoch, tz=since.tzinfo)
    touched_by_event = Q(last_event_created__gte=since_epoch) & ~Q(last_event_id="")  # "" marks a sync's stamp
    return (
        model_for(object_name)
        .objects.filter(account=account, deleted=False)
        .exclude(seen_in_run=pass_id)
        .filter(Q(created__isnull=True) | Q(created__lt=since_second))
        .exclude(touched_by_event)
        .update(deleted=True, synced_at=timezone.now())
    )
