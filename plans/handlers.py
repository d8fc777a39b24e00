"""The platform's webhook handlers (Relationship.PLATFORM): our billing of accounts (SPEC §7; docs/plans.md).

They run inside the processing transaction: no Stripe call here. The one event that needs Stripe
(`checkout.session.completed`: the session names the subscription, the subscription is in Stripe) queues
`plans.sync_checkout_subscription` after commit.

An event about a customer we do not know (another platform integration, a deleted account) is logged and left:
processed with nothing to do, never an error that would retry forever. Events on an account's own endpoint
(Relationship.ACCOUNT) never come here: the registry keys on the relationship."""

import logging

from billing.models import WebhookEvent
from billing.relationships import Relationship
from billing.webhooks.registry import handles
from core.queue import enqueue_on_commit
from plans.models import AccountSubscription
from plans.selectors.subscriptions import account_subscription_for_platform_object
from plans.services.account_plan import CHECKOUT_KIND
from plans.services.stripe_shapes import invoice_subscription_id, object_id
from plans.services.subscription_state import (
    ENDED,
    Stamp,
    customer_deleted_apply,
    invoice_apply,
    subscription_apply,
    subscription_deleted_apply,
)

logger = logging.getLogger(__name__)

SYNC_CHECKOUT_TASK = "plans.sync_checkout_subscription"


def _object(event: WebhookEvent) -> dict:
    return event.payload["data"]["object"]


def _unknown(event: WebhookEvent, obj: dict) -> None:
    logger.warning(
        "plans: platform event %s (%s) about customer %s of no account: recorded, nothing to do",
        event.stripe_event_id,
        event.type,
        object_id(obj.get("customer")) or obj.get("id"),
    )


def _metadata_account(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("account_id") or "")


@handles(Relationship.PLATFORM, "checkout.session.completed")
def checkout_completed(event: WebhookEvent) -> None:
    """Ours: subscription-mode sessions for a plan (`metadata.kind=plan`). Others (metering's extras packs, in
    payment mode) are left to their listeners."""
    session = _object(event)
    if session.get("mode") != "subscription" or (session.get("metadata") or {}).get("kind") != CHECKOUT_KIND:
        return
    customer_id, subscription_id = object_id(session.get("customer")), object_id(session.get("subscription"))
    row = account_subscription_for_platform_object(
        customer_id=customer_id, account_id=_metadata_account(session) or session.get("client_reference_id") or ""
    )
    if row is None or not subscription_id:
        _unknown(event, session)
        return
    if not row.stripe_customer_id and customer_id:
        AccountSubscription.objects.filter(pk=row.pk, stripe_customer_id="").update(stripe_customer_id=customer_id)
    enqueue_on_commit(
        SYNC_CHECKOUT_TASK,
        account_subscription_id=row.pk,
        subscription_id=subscription_id,
        event_created=event.payload["created"],
        event_id=event.stripe_event_id,
    )


@handles(Relationship.PLATFORM, "customer.subscription.created", "customer.subscription.updated")
def subscription_changed(event: WebhookEvent) -> None:
    subscription = _object(event)
    row = account_subscription_for_platform_object(
        subscription_id=subscription.get("id", ""),
        customer_id=object_id(subscription.get("customer")),
        account_id=_metadata_account(subscription),
    )
    if row is None:
        _unknown(event, subscription)
        return
    if row.stripe_subscription_id not in ("", subscription.get("id")) and subscription.get("status") in ENDED:
        # An earlier subscription of the customer, ended: it must not end the one the account pays for now.
        logger.info(
            "plans: %s about ended subscription %s, not the account's current one", event.type, subscription.get("id")
        )
        return
    subscription_apply(account_subscription_id=row.pk, data=subscription, stamp=Stamp.of_event(event.payload))


@handles(Relationship.PLATFORM, "customer.subscription.deleted")
def subscription_deleted(event: WebhookEvent) -> None:
    subscription = _object(event)
    row = account_subscription_for_platform_object(
        subscription_id=subscription.get("id", ""),
        customer_id=object_id(subscription.get("customer")),
        account_id=_metadata_account(subscription),
    )
    if row is None:
        _unknown(event, subscription)
        return
    subscription_deleted_apply(
        account_subscription_id=row.pk, subscription_id=subscription.get("id", ""), stamp=Stamp.of_event(event.payload)
    )


@handles(Relationship.PLATFORM, "invoice.payment_failed", "invoice.payment_succeeded", "invoice.paid")
def invoice_payment(event: WebhookEvent) -> None:
    """Only invoices of the account's subscription: a one-off invoice (an extras pack) says nothing of it."""
    invoice = _object(event)
    subscription_id = invoice_subscription_id(invoice)
    if not subscription_id:
        return
    row = account_subscription_for_platform_object(
        subscription_id=subscription_id, customer_id=object_id(invoice.get("customer"))
    )
    if row is None:
        _unknown(event, invoice)
        return
    if row.stripe_subscription_id != subscription_id:
        # Not (or no longer, or not yet) the account's subscription: a late failure of an ended subscription must
        # not make an account on the default plan past due. A checkout's first invoice can arrive before the
        # subscription is stored: the subscription's own status says the same then.
        logger.info("plans: %s is about subscription %s, not the account's current one", event.type, subscription_id)
        return
    invoice_apply(
        account_subscription_id=row.pk, paid=event.type != "invoice.payment_failed", stamp=Stamp.of_event(event.payload)
    )


@handles(Relationship.PLATFORM, "customer.deleted")
def customer_deleted(event: WebhookEvent) -> None:
    customer = _object(event)
    row = account_subscription_for_platform_object(customer_id=customer.get("id", ""))
    if row is None:
        _unknown(event, customer)
        return
    customer_deleted_apply(account_subscription_id=row.pk, stamp=Stamp.of_event(event.payload))
