"""Stripe object → typed columns, one pure function per object type (no ORM, no I/O).

Each reads today's API shape (stripe/openapi fixtures3.json) and the older one localstripe answers in:
customer `account_balance`, a subscription's period dates at the top level (today: on each item), plans
instead of prices, an invoice's top-level `subscription` (today: `parent.subscription_details.subscription`),
a charge without `amount_captured` or `payment_method_details`. Expandable fields may come as an id or as the
expanded object.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


# --- small readers -----------------------------------------------------------------------------------------
def ts(value) -> datetime | None:
    """A Stripe timestamp (seconds since the epoch) → aware datetime."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def ref(value) -> str:
    """An expandable field: the id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value) if value else ""


def money(value) -> int:
    """An amount in minor units. Stripe sends integers: anything else is a bug, not a rounding job."""
    if value is None or isinstance(value, bool):
        return 0
    return int(value)


def money_or_none(value) -> int | None:
    return None if value is None or isinstance(value, bool) else int(value)


def text(value, limit: int | None = None) -> str:
    if value is None:
        return ""
    value = str(value)
    return value[:limit] if limit else value


def dig(obj: Obj | None, *path: str):
    """obj[path[0]][path[1]]..., None as soon as a level is missing or null."""
    current: Any = obj
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def common(obj: Obj) -> Obj:
    """The columns every mirrored object has."""
    return {"livemode": bool(obj.get("livemode", False)), "created": ts(obj.get("created"))}


# --- one function per object type -------------------------------------------------------------------------
def customer(obj: Obj) -> Obj:
    balance = obj.get("balance", obj.get("account_balance"))
    return {
        "email": text(obj.get("email"), 254),
        "name": text(obj.get("name"), 255),
        "phone": text(obj.get("phone"), 64),
        "description": text(obj.get("description")),
        "currency": text(obj.get("currency"), 3),
        "balance": money(balance),
        "delinquent": bool(obj.get("delinquent")),
        "default_payment_method_stripe_id": ref(dig(obj, "invoice_settings", "default_payment_method")),
    }


def payment_method(obj: Obj) -> Obj:
    card = obj.get("card") or {}
    return {
        "customer_stripe_id": ref(obj.get("customer")),
        "type": text(obj.get("type"), 40),
        "card_brand": text(card.get("brand"), 20),
        "card_last4": text(card.get("last4"), 4),
        "card_exp_month": card.get("exp_month"),
        "card_exp_year": card.get("exp_year"),
    }


def product(obj: Obj) -> Obj:
    return {
        "name": text(obj.get("name"), 255),
        "description": text(obj.get("description")),
        "active": bool(obj.get("active", True)),
        "type": text(obj.get("type"), 20),
        "default_price_stripe_id": ref(obj.get("default_price")),
    }


def price(obj: Obj) -> Obj:
    """A price, or a plan (the older object localstripe and /v1/plans answer): both are Price rows."""
    if obj.get("object") == "plan":
        return {
            "product_stripe_id": ref(obj.get("product")),
            "active": bool(obj.get("active", True)),
            "currency": text(obj.get("currency"), 3),
            "unit_amount": money_or_none(obj.get("amount")),
            "type": "recurring",
            "recurring_interval": text(obj.get("interval"), 10),
            "recurring_interval_count": obj.get("interval_count"),
            "nickname": text(obj.get("nickname") or obj.get("name"), 255),
            "lookup_key": "",
        }
    recurring = obj.get("recurring") or {}
    return {
        "product_stripe_id": ref(obj.get("product")),
        "active": bool(obj.get("active", True)),
        "currency": text(obj.get("currency"), 3),
        "unit_amount": money_or_none(obj.get("unit_amount")),
        "type": text(obj.get("type") or ("recurring" if recurring else "one_time"), 20),
        "recurring_interval": text(recurring.get("interval"), 10),
        "recurring_interval_count": recurring.get("interval_count"),
        "nickname": text(obj.get("nickname"), 255),
        "lookup_key": text(obj.get("lookup_key"), 255),
    }


def _items(obj: Obj) -> list[Obj]:
    items = obj.get("items")
    if isinstance(items, dict):
        return [item for item in items.get("data") or [] if isinstance(item, dict)]
    return []


def _period(obj: Obj, items: Iterable[Obj]) -> tuple[datetime | None, datetime | None]:
    """Old shape: on the subscription. Today's: on each item; the subscription's period is then the span of
    its items (earliest start, latest end), the single period when, as usual, all items renew together."""
    start, end = obj.get("current_period_start"), obj.get("current_period_end")
    items = list(items)
    if start is None:
        starts = [item["current_period_start"] for item in items if item.get("current_period_start") is not None]
        start = min(starts) if starts else None
    if end is None:
        ends = [item["current_period_end"] for item in items if item.get("current_period_end") is not None]
        end = max(ends) if ends else None
    return ts(start), ts(end)


def subscription(obj: Obj) -> Obj:
    items = _items(obj)
    start, end = _period(obj, items)
    first_price = (items[0].get("price") or items[0].get("plan") or {}) if items else {}
    currency = obj.get("currency") or dig(obj, "plan", "currency") or first_price.get("currency")
    return {
        "customer_stripe_id": ref(obj.get("customer")),
        "status": text(obj.get("status"), 30),
        "currency": text(currency, 3),
        "collection_method": text(obj.get("collection_method"), 30),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        "current_period_start": start,
        "current_period_end": end,
        "start_date": ts(obj.get("start_date")),
        "trial_start": ts(obj.get("trial_start")),
        "trial_end": ts(obj.get("trial_end")),
        "cancel_at": ts(obj.get("cancel_at")),
        "canceled_at": ts(obj.get("canceled_at")),
        "ended_at": ts(obj.get("ended_at")),
        "latest_invoice_stripe_id": ref(obj.get("latest_invoice")),
    }


def subscription_items(obj: Obj) -> list[Obj]:
    """The subscription's items as rows (stripe_id, columns, data); an item's period defaults to its
    subscription's."""
    parent_start, parent_end = ts(obj.get("current_period_start")), ts(obj.get("current_period_end"))
    rows = []
    for item in _items(obj):
        if not item.get("id"):
            continue
        item_price = item.get("price") or item.get("plan") or {}
        rows.append(
            {
                "stripe_id": item["id"],
                "data": item,
                **common(item),
                "price_stripe_id": ref(item_price),
                "product_stripe_id": ref(item_price.get("product")) if isinstance(item_price, dict) else "",
                "quantity": item.get("quantity"),
                "unit_amount": money_or_none(
                    item_price.get("unit_amount", item_price.get("amount")) if isinstance(item_price, dict) else None
                ),
                "currency": text(item_price.get("currency") if isinstance(item_price, dict) else "", 3),
                "current_period_start": ts(item.get("current_period_start")) or parent_start,
                "current_period_end": ts(item.get("current_period_end")) or parent_end,
            }
        )
    return rows


def invoice(obj: Obj) -> Obj:
    amount_due, amount_paid = money(obj.get("amount_due")), money(obj.get("amount_paid"))
    remaining = obj.get("amount_remaining")
    subscription_id = ref(obj.get("subscription")) or ref(dig(obj, "parent", "subscription_details", "subscription"))
    return {
        "customer_stripe_id": ref(obj.get("customer")),
        "subscription_stripe_id": subscription_id,
        "charge_stripe_id": ref(obj.get("charge")),
        "payment_intent_stripe_id": ref(obj.get("payment_intent")),
        "number": text(obj.get("number"), 100),
        "status": text(obj.get("status"), 20),
        "billing_reason": text(obj.get("billing_reason"), 40),
        "collection_method": text(obj.get("collection_method"), 30),
        "currency": text(obj.get("currency"), 3),
        "amount_due": amount_due,
        "amount_paid": amount_paid,
        "amount_remaining": money(remaining) if remaining is not None else max(amount_due - amount_paid, 0),
        "subtotal": money(obj.get("subtotal")),
        "total": money(obj.get("total")),
        "period_start": ts(obj.get("period_start")),
        "period_end": ts(obj.get("period_end")),
        "due_date": ts(obj.get("due_date")),
        "paid_at": ts(dig(obj, "status_transitions", "paid_at")),
        "hosted_invoice_url": text(obj.get("hosted_invoice_url")),
    }


def charge(obj: Obj) -> Obj:
    details = obj.get("payment_method_details") or {}
    card = details.get("card") or {}
    amount = money(obj.get("amount"))
    captured = bool(obj.get("captured"))
    amount_captured = obj.get("amount_captured")
    return {
        "customer_stripe_id": ref(obj.get("customer")),
        "invoice_stripe_id": ref(obj.get("invoice")),
        "payment_intent_stripe_id": ref(obj.get("payment_intent")),
        "payment_method_stripe_id": ref(obj.get("payment_method")),
        "balance_transaction_stripe_id": ref(obj.get("balance_transaction")),
        "currency": text(obj.get("currency"), 3),
        "amount": amount,
        # Old API versions have no amount_captured: a captured charge captured all of it.
        "amount_captured": money(amount_captured) if amount_captured is not None else (amount if captured else 0),
        "amount_refunded": money(obj.get("amount_refunded")),
        "status": text(obj.get("status"), 20),
        "paid": bool(obj.get("paid")),
        "captured": captured,
        "refunded": bool(obj.get("refunded")),
        "disputed": bool(obj.get("disputed")),
        "payment_method_type": text(details.get("type"), 40),
        "card_brand": text(card.get("brand"), 20),
        "card_last4": text(card.get("last4"), 4),
        "failure_code": text(obj.get("failure_code"), 100),
        "failure_message": text(obj.get("failure_message")),
        "description": text(obj.get("description")),
        "receipt_email": text(obj.get("receipt_email"), 254),
    }


def refund(obj: Obj) -> Obj:
    return {
        "charge_stripe_id": ref(obj.get("charge")),
        "payment_intent_stripe_id": ref(obj.get("payment_intent")),
        "balance_transaction_stripe_id": ref(obj.get("balance_transaction")),
        "currency": text(obj.get("currency"), 3),
        "amount": money(obj.get("amount")),
        "status": text(obj.get("status"), 30),
        "reason": text(obj.get("reason"), 60),
    }


def dispute(obj: Obj) -> Obj:
    return {
        "charge_stripe_id": ref(obj.get("charge")),
        "payment_intent_stripe_id": ref(obj.get("payment_intent")),
        "currency": text(obj.get("currency"), 3),
        "amount": money(obj.get("amount")),
        "status": text(obj.get("status"), 40),
        "reason": text(obj.get("reason"), 60),
        "is_charge_refundable": bool(obj.get("is_charge_refundable")),
        "evidence_due_by": ts(dig(obj, "evidence_details", "due_by")),
    }


def payout(obj: Obj) -> Obj:
    return {
        "currency": text(obj.get("currency"), 3),
        "amount": money(obj.get("amount")),
        "status": text(obj.get("status"), 20),
        "arrival_date": ts(obj.get("arrival_date")),
        "automatic": bool(obj.get("automatic")),
        "method": text(obj.get("method"), 20),
        "type": text(obj.get("type"), 20),
        "description": text(obj.get("description")),
        "balance_transaction_stripe_id": ref(obj.get("balance_transaction")),
        "failure_code": text(obj.get("failure_code"), 100),
        "failure_message": text(obj.get("failure_message")),
    }


def balance_transaction(obj: Obj) -> Obj:
    return {
        "source_stripe_id": ref(obj.get("source")),
        "currency": text(obj.get("currency"), 3),
        "amount": money(obj.get("amount")),
        "fee": money(obj.get("fee")),
        "net": money(obj.get("net")),
        "type": text(obj.get("type"), 40),
        "reporting_category": text(obj.get("reporting_category"), 60),
        "status": text(obj.get("status"), 20),
        "description": text(obj.get("description")),
        "available_on": ts(obj.get("available_on")),
    }
