"""The one way Stripe data gets into the mirror (the account's own Stripe, SPEC §0): pages in bulk for the
sync, single objects for webhooks. Nothing here calls Stripe.

Public API:
- `OBJECT_NAMES`, `is_mirrored(object_name)`, `model_for(object_name)`;
- `upsert_objects(account, object_name, objects, *, seen_in_run=None, fetched_at=None, payout=None) -> int`;
- `apply_event_object(account, obj, *, event_id, event_created, deleted=False) -> bool`, and its batch form
  `apply_event_objects(items) -> items left for apply_event_object`;
- `mark_unseen_deleted(account, object_name, *, pass_id, since) -> int`;
- `link_customers(account) -> int`.

Query budget: a page costs a constant number of queries whatever its size (customer ids resolved once per
page, one INSERT ... ON CONFLICT DO UPDATE per table, split only by SQLite's parameter limit).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
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
    # Called after the parents of a page are written, with the written rows and their objects.
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


def _per_account(pairs: Iterable[tuple], field: str) -> Q:
    """One condition for (account pk, Stripe id) pairs of several accounts: `field` among each account's ids.
    Matches nothing when no pair carries an id."""
    ids_by_account: dict = {}
    for account_pk, stripe_id in pairs:
        if stripe_id:
            ids_by_account.setdefault(account_pk, set()).add(stripe_id)
    match = Q(pk__in=[])
    for account_pk, stripe_ids in ids_by_account.items():
        match |= Q(account_id=account_pk, **{f"{field}__in": sorted(stripe_ids)})
    return match


def _customer_pks_by_account(pairs: Iterable[tuple]) -> dict[tuple, int]:
    """(account pk, customer's Stripe id) → the mirrored customer's pk, in one query."""
    rows = Customer.objects.filter(_per_account(pairs, "stripe_id")).values_list("account_id", "stripe_id", "pk")
    return {(account_pk, stripe_id): pk for account_pk, stripe_id, pk in rows}


def _customer_pks(account, customer_ids: Iterable[str]) -> dict[str, int]:
    found = _customer_pks_by_account((account.pk, cid) for cid in customer_ids)
    return {stripe_id: pk for (_, stripe_id), pk in found.items()}


def _upsert_subscription_items(account, parents: list, objects: list[Obj], *, seen_in_run, now):
    """Items are replaced with what Stripe sent: upserted in bulk, and those gone from a subscription removed.
    A subscription whose item list is truncated (`has_more`) keeps the items not sent (the sync fetches the
    rest before calling this)."""
    pks = {row.stripe_id: row.pk for row in parents}
    if any(pk is None for pk in pks.values()):
        pks = dict(Subscription.objects.filter(account=account, stripe_id__in=pks).values_list("stripe_id", "pk"))
    rows, complete = [], []
    for obj in objects:
        items = obj.get("items")
        if obj.get("deleted") or not isinstance(items, dict) or pks.get(obj["id"]) is None:
            continue
        for columns in mappers.subscription_items(obj):
            row = SubscriptionItem(account_id=account.pk, subscription_id=pks[obj["id"]], synced_at=now, **columns)
            row.seen_in_run = seen_in_run
            rows.append(row)
        if not items.get("has_more"):
            complete.append(pks[obj["id"]])
    if rows:
        SubscriptionItem.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["account", "stripe_id"],
            update_fields=_ITEM_TYPE.update_fields(with_seen=seen_in_run is not None, with_ordering=False),
        )
    if complete:
        SubscriptionItem.objects.filter(account=account, subscription_id__in=complete).exclude(
            stripe_id__in=[row.stripe_id for row in rows]
        ).delete()


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
            otype.children(account, rows, page, seen_in_run=seen_in_run, now=now)
    return len(rows)


def is_newer(event_created: int, event_id: str, row_created: int | None, row_event_id: str | None) -> bool:
    """Stripe does not deliver events in order: the one created later wins, ties broken by event id."""
    if row_created is None:
        return True
    return (int(event_created), event_id or "") > (int(row_created), row_event_id or "")


def apply_event_object(account, obj: dict, *, event_id: str, event_created: int, deleted: bool = False) -> bool:
    """Applies one object from a webhook event, if the event is newer than what the row holds; creates the row
    if absent; marks it deleted (never removes it) when `deleted` or the object says `deleted: true`.
    Returns whether it applied. Runs with the row locked until the transaction (the caller's, or its own)
    ends, so two events for one object apply one after the other, and the older loses whichever arrives
    last. Raises UnsupportedObject."""
    otype = object_type(obj.get("object"))
    stripe_id = obj.get("id")
    if not stripe_id:
        raise UnsupportedObject("A Stripe object without an id cannot be mirrored.")
    model = otype.model
    stub = bool(obj.get("deleted"))  # Stripe's deleted objects carry only id, object and deleted
    now = timezone.now()
    # No savepoint of its own: a webhook handler already runs in one (billing/services/webhooks.py), and an
    # error here must undo the handler's whole effect anyway; called outside a transaction, this opens one.
    with transaction.atomic(savepoint=False):
        rows = _lock(model.objects.filter(account=account, stripe_id=stripe_id))
        row = rows.first()
        if row is None:
            # A first event about this object: insert-if-absent, so that the lock always has a row to hold,
            # even for two concurrent first events about the same object.
            model.objects.bulk_create([model(account_id=account.pk, stripe_id=stripe_id)], ignore_conflicts=True)
            row = rows.get()
        if not is_newer(event_created, event_id, row.last_event_created, row.last_event_id):
            return False
        placeholder = row.last_event_created is None and row.created is None and not row.data
        if not stub:
            customer_pks = _customer_pks(account, [mappers.ref(obj.get("customer"))]) if otype.customer_fk else {}
            built = _build(otype, account, obj, customer_pks=customer_pks, now=now, extra={})
            for name in otype.update_fields(with_seen=False, with_ordering=False):
                setattr(row, name, getattr(built, name))
        elif placeholder:
            row.data, row.livemode = obj, bool(obj.get("livemode", False))
        row.deleted = deleted or stub
        row.last_event_created, row.last_event_id, row.synced_at = int(event_created), event_id, now
        row.save()
        if otype.children and not stub:
            otype.children(account, [row], [obj], seen_in_run=None, now=now)
        if model is Customer and placeholder:
            _link_customers([(account.pk, row.stripe_id)])
    return True


@dataclass(frozen=True)
class EventObject:
    """One object carried by a webhook event, for apply_event_objects."""

    account: object  # Account
    obj: Obj
    event_id: str
    event_created: int
    deleted: bool = False


def apply_event_objects(items: list[EventObject]) -> list[EventObject]:
    """The batch form of apply_event_object, for the objects of one worker's batch of events (any accounts):
    one lock, one customer lookup and one write per table instead of a few statements per event. Same rules:
    among the items about one object only the newest counts, and it applies only if newer than what the row
    holds.

    Objects not mirrored yet are inserted first (insert-if-absent, as apply_event_object does, so that the
    lock always has a row to hold), and the rows waiting for a customer that arrives here are linked to it.
    Answers the items it did not handle (a deletion stub, a subscription with its items), which the caller
    applies one by one with apply_event_object. Rows are locked in one order (table, account, Stripe id) until
    the transaction ends. Raises UnsupportedObject."""
    rest: list[EventObject] = []
    newest: dict[type, dict[tuple, EventObject]] = {}
    for item in items:
        otype = object_type(item.obj.get("object"))
        if not item.obj.get("id") or item.obj.get("deleted") or otype.children:
            rest.append(item)
            continue
        key = (item.account.pk, item.obj["id"])
        held = newest.setdefault(otype.model, {}).get(key)
        if held is None or is_newer(item.event_created, item.event_id, held.event_created, held.event_id):
            newest[otype.model][key] = item
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        for model in sorted(newest, key=lambda m: m._meta.db_table):
            wanted = newest[model]
            state = _locked_state(model, wanted)
            missing = [key for key in wanted if key not in state]
            if missing:
                model.objects.bulk_create(
                    [model(account_id=account_pk, stripe_id=stripe_id) for account_pk, stripe_id in missing],
                    ignore_conflicts=True,
                )
                state.update(_locked_state(model, {key: wanted[key] for key in missing}))
            apply = [
                item
                for key, item in wanted.items()
                if is_newer(item.event_created, item.event_id, state[key][1], state[key][2])
            ]
            if apply:
                _write_newer(model, apply, now)
            if model is Customer:
                # Rows that name a customer not mirrored until now (placeholders: no Stripe data yet).
                _link_customers([key for key in wanted if state[key][0] is None and state[key][1] is None])
    return rest


def _link_customers(keys: list[tuple]) -> None:
    """Fills the customer of the rows that name these (account pk, customer Stripe id) and were written before
    the customer was mirrored. One UPDATE per table."""
    if not keys:
        return
    waiting = _per_account(keys, "customer_stripe_id")
    for model in _CUSTOMER_DEPENDENTS:
        customer_pk = Customer.objects.filter(account=OuterRef("account"), stripe_id=OuterRef("customer_stripe_id"))
        model.objects.filter(waiting, customer__isnull=True).update(customer=Subquery(customer_pk.values("pk")[:1]))


def _locked_state(model, wanted: dict[tuple, EventObject]) -> dict[tuple, tuple]:
    """(account pk, Stripe id) → (created, last event created, last event id) of the rows that exist, locked."""
    rows = _lock(
        model.objects.filter(_per_account(wanted, "stripe_id")).order_by("account_id", "stripe_id")
    ).values_list("account_id", "stripe_id", "created", "last_event_created", "last_event_id")
    return {(account_pk, stripe_id): rest for account_pk, stripe_id, *rest in rows}


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
