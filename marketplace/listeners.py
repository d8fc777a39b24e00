"""The marketplace's listeners on the agency's own Stripe events (relationship `account`). billing/handlers.py
handles these types to keep the mirror in step; a listener runs after it in the same savepoint
(billing/webhooks/registry.py, `listens`), so the mirror and the purchase or balance move together or not at all.
No Stripe call here; follow-up work is queued after commit (services/fulfilment.py).

Which event is ours: a payment intent we created carries `metadata.marketplace` ("purchase" or "top_up") and
our row's id; a subscription's invoice names the subscription we created; a refunded charge names its payment
intent. Everything else returns early."""

import uuid

from billing.relationships import Relationship
from billing.webhooks.registry import listens
from marketplace.services import fulfilment, top_ups


def _object(event) -> dict:
    return (event.payload.get("data") or {}).get("object") or {}


def _our_id(metadata: dict, key: str) -> str:
    value = (metadata or {}).get(key) or ""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return ""


@listens(Relationship.ACCOUNT, "payment_intent.succeeded")
def payment_intent_succeeded(event) -> None:
    intent = _object(event)
    metadata = intent.get("metadata") or {}
    if metadata.get("marketplace") == "top_up" and (top_up_id := _our_id(metadata, "top_up_id")):
        top_ups.top_up_credit(agency=event.account, top_up_id=top_up_id, payment_intent=intent)
    elif metadata.get("marketplace") == "purchase" and (purchase_id := _our_id(metadata, "purchase_id")):
        fulfilment.purchase_paid(agency=event.account, purchase_id=purchase_id, payment_intent_id=intent.get("id", ""))


@listens(Relationship.ACCOUNT, "payment_intent.payment_failed")
def payment_intent_failed(event) -> None:
    intent = _object(event)
    metadata = intent.get("metadata") or {}
    error = intent.get("last_payment_error") or {}
    if metadata.get("marketplace") == "top_up" and (top_up_id := _our_id(metadata, "top_up_id")):
        top_ups.top_up_payment_failed(agency=event.account, top_up_id=top_up_id, payment_intent=intent)
    elif metadata.get("marketplace") == "purchase" and (purchase_id := _our_id(metadata, "purchase_id")):
        fulfilment.purchase_payment_failed(agency=event.account, error=error, purchase_id=purchase_id)


@listens(Relationship.ACCOUNT, "charge.refunded")
def charge_refunded(event) -> None:
    charge = _object(event)
    if not fulfilment.purchase_refunded(agency=event.account, charge=charge):
        top_ups.top_up_refunded(agency=event.account, charge=charge)


@listens(Relationship.ACCOUNT, "invoice.paid")
def invoice_paid(event) -> None:
    invoice = _object(event)
    subscription = _subscription_id(invoice)
    if subscription:
        fulfilment.purchase_paid(agency=event.account, subscription_id=subscription)


@listens(Relationship.ACCOUNT, "invoice.payment_failed")
def invoice_payment_failed(event) -> None:
    invoice = _object(event)
    subscription = _subscription_id(invoice)
    if subscription:
        error = {"code": "invoice_payment_failed", "message": "The subscription's first invoice could not be paid."}
        fulfilment.purchase_payment_failed(agency=event.account, error=error, subscription_id=subscription)


def _subscription_id(invoice: dict) -> str:
    # Older API versions name it at the top; today's under parent.subscription_details.
    value = invoice.get("subscription") or (
        ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    )
    if isinstance(value, dict):
        value = value.get("id")
    return value or ""
