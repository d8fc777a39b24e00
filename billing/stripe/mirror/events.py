"""Webhooks' way in: the objects webhook events carry, applied where the event is newer than the row, a batch
of any accounts' events at a few statements per table, rows locked in one order."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from billing.models import Customer
from billing.stripe import mappers
from billing.stripe.mirror.rows import customer_pks_by_account, pairs_in, select_rows
from billing.stripe.mirror.types import (
    CUSTOMER_DEPENDENTS,
    Obj,
    UnsupportedObject,
    build_row,
    is_newer,
    object_type,
)


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
            state, waiting_pks = _locked_state(model, wanted, arrived if model in CUSTOMER_DEPENDENTS else set())
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
        models.update(CUSTOMER_DEPENDENTS)
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
    conditions = pairs_in(model, "stripe_id", wanted)
    if arrived:
        columns += ["customer_id", "customer_stripe_id"]
        conditions += [
            (f"({sql} AND customer_id IS NULL)", params)
            for sql, params in pairs_in(model, "customer_stripe_id", arrived)
        ]
    state, waiting = {}, []
    for account_pk, stripe_id, pk, synced_at, last_created, last_id, *customer in select_rows(
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
        found = customer_pks_by_account((i.account.pk, mappers.ref(i.obj.get("customer"))) for i in items)
        for (account_pk, stripe_id), pk in found.items():
            customer_pks.setdefault(account_pk, {})[stripe_id] = pk
    rows = []
    for item in items:
        otype_of_item = object_type(item.obj.get("object"))  # price and plan objects share a table
        row = build_row(
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
