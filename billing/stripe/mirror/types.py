"""What the mirror keeps: one ObjectType per Stripe object it mirrors (its model, its columns from the mappers,
its customer link and children), the subscription items written with their subscription, and the ordering rule
for events."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

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
from billing.stripe.mirror.bulk_sql import upsert_rows
from billing.stripe.mirror.rows import pairs_in, select_rows

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


def upsert_subscription_items(parents: list[tuple[int, Obj]], *, seen_in_run, now):
    """Items are replaced with what Stripe sent, for (account pk, subscription object) pairs of any accounts:
    upserted in bulk, and those gone from a subscription removed. A subscription whose item list is truncated
    (`has_more`) keeps the items not sent (the sync fetches the rest before calling this)."""
    parents = [(a, obj) for a, obj in parents if not obj.get("deleted") and isinstance(obj.get("items"), dict)]
    if not parents:
        return
    parents_ids = [(a, obj["id"]) for a, obj in parents]
    found = select_rows(
        Subscription, ["account_id", "stripe_id", "id"], pairs_in(Subscription, "stripe_id", parents_ids)
    )
    pks = {(a, stripe_id): pk for a, stripe_id, pk in found}
    rows, complete, sent = [], {}, {}
    for account_pk, obj in parents:
        pk = pks.get((account_pk, obj["id"]))
        if pk is None:
            continue
        for columns in mappers.subscription_items(obj):
            rows.append(
                {
                    "account_id": account_pk,
                    "subscription_id": pk,
                    "synced_at": now,
                    "seen_in_run": seen_in_run,
                    **columns,
                }
            )
            sent.setdefault(account_pk, []).append(columns["stripe_id"])
        if not obj["items"].get("has_more"):
            complete.setdefault(account_pk, []).append(pk)
    if rows:
        upsert_rows(
            SubscriptionItem,
            rows,
            update=_ITEM_TYPE.update_fields(with_seen=seen_in_run is not None, with_ordering=False),
            guard=False,
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
        Subscription, mappers.subscription, customer_fk=True, children=upsert_subscription_items
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


def build_row(otype: ObjectType, account, obj: Obj, *, customer_pks: dict, now: datetime, extra: dict):
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


def row_values(otype: ObjectType, account_pk, obj: Obj, *, customer_pks: dict, now: datetime, extra: dict) -> dict:
    """The columns of build_row's row as a dict (attname → value), without a model instance: for bulk_sql."""
    columns = otype.columns(obj)
    values = {
        "account_id": account_pk,
        "stripe_id": obj["id"],
        "data": obj,
        "deleted": bool(obj.get("deleted")),
        "synced_at": now,
        **mappers.common(obj),
        **columns,
        **extra,
    }
    if otype.customer_fk:
        values["customer_id"] = customer_pks.get(columns["customer_stripe_id"])
    return values


def is_newer(event_created: int, event_id: str, row_created: int | None, row_event_id: str | None) -> bool:
    """Stripe does not deliver events in order: the one created later wins, ties broken by event id."""
    if row_created is None:
        return True
    return (int(event_created), event_id or "") > (int(row_created), row_event_id or "")


CUSTOMER_DEPENDENTS = [t.model for t in _TYPES.values() if t.customer_fk]
