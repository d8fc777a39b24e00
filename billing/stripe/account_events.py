"""Account-side webhook handlers (SPEC §0, §3): events from an account's own Stripe keep its mirror in step.

Every object goes through `mirror.apply_event_object` with the event's id and `created`, so an event older than
what a row already holds changes nothing (Stripe does not deliver in order), and a deletion marks the row
deleted instead of removing it. Handlers run inside the processing transaction (billing/services/webhooks.py):
no Stripe call, nothing but the mirror.

Decisions (docs/webhooks.md):
- `customer.subscription.deleted` is a cancellation: the subscription still exists in Stripe (status
  `canceled`, and the sync lists it with `status=all`), so the mirror keeps it with that status, not deleted.
- `payment_method.detached` is not a deletion either: the method lives on without a customer.
- Payment intents have no model: a `payment_intent.*` event mirrors the charge it carries (`latest_charge` when
  expanded, as localstripe sends it; `charges.data` in older API versions) and otherwise has nothing to do —
  the charge's own `charge.*` events carry it.
- `checkout.session.completed` mirrors the customer and subscription when the session carries them expanded;
  as ids they arrive through their own events, and no Stripe call is made here.
- `invoice.upcoming` describes an invoice that does not exist yet (no id): nothing to mirror.
"""

import logging

from billing.models import WebhookEvent
from billing.stripe import mirror
from billing.stripe.handlers import ACCOUNT, handles

logger = logging.getLogger(__name__)


def _object(event: WebhookEvent) -> dict:
    obj = (event.payload.get("data") or {}).get("object")
    return obj if isinstance(obj, dict) else {}


def _apply(event: WebhookEvent, obj: dict, *, deleted: bool = False) -> bool:
    applied = mirror.apply_event_object(
        event.account, obj, event_id=event.stripe_event_id, event_created=event.created, deleted=deleted
    )
    if not applied:
        logger.info(
            "%s %s for %s is older than the mirror's copy: not applied", event.type, event.stripe_event_id, obj["id"]
        )
    return applied


def _apply_many(events: list[WebhookEvent], *, deleted, skip_without_id: bool) -> list[WebhookEvent]:
    """Several events of one worker batch through mirror.apply_event_objects (the same rules, a few statements
    for the lot); answers the events it left to be handled one by one."""
    pairs = []
    for event in events:
        obj = _object(event)
        if skip_without_id and not obj.get("id"):
            continue  # nothing to mirror: handled
        pairs.append(
            (event, mirror.EventObject(event.account, obj, event.stripe_event_id, event.created, deleted(event)))
        )
    rest = {id(item) for item in mirror.apply_event_objects([item for _, item in pairs])}
    return [event for event, item in pairs if id(item) in rest]


def _apply_expanded(event: WebhookEvent, value) -> None:
    """An expandable field: mirrored when Stripe sent the object, nothing when it sent only its id."""
    if isinstance(value, dict) and value.get("id") and mirror.is_mirrored(value.get("object")):
        _apply(event, value)


@handles(
    ACCOUNT,
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "product.created",
    "product.updated",
    "product.deleted",
    "price.created",
    "price.updated",
    "price.deleted",
    "plan.created",
    "plan.updated",
    "plan.deleted",
    "invoice.deleted",
)
def mirror_object(event: WebhookEvent) -> None:
    """The event's object, as is; `*.deleted` marks it deleted (a deleted draft invoice too)."""
    _apply(event, _object(event), deleted=_is_deletion(event))


def _is_deletion(event: WebhookEvent) -> bool:
    return event.type.endswith(".deleted")


# Batch forms (billing/services/webhooks.py uses them for several events of one batch).
mirror_object.apply_many = lambda events: _apply_many(events, deleted=_is_deletion, skip_without_id=False)


@handles(
    ACCOUNT,
    "customer.subscription.*",
    "invoice.*",
    "payment_method.*",
    "charge.*",
    "charge.dispute.*",
    "charge.refund.*",
    "refund.*",
    "payout.*",
)
def mirror_state_change(event: WebhookEvent) -> None:
    """Families whose every event carries the object's new state, none of them a deletion (see the module
    docstring for subscriptions and payment methods)."""
    obj = _object(event)
    if not obj.get("id"):  # invoice.upcoming: a preview, not an invoice
        return
    _apply(event, obj)


mirror_state_change.apply_many = lambda events: _apply_many(events, deleted=lambda _: False, skip_without_id=True)


@handles(ACCOUNT, "charge.refunded")
def mirror_refunded_charge(event: WebhookEvent) -> None:
    """The charge, and the refunds it carries (Stripe embeds them in `refunds.data` in most API versions)."""
    charge = _object(event)
    if not _apply(event, charge):
        return  # an older event: its refunds are no newer than the charge it came with
    refunds = (charge.get("refunds") or {}).get("data") or []
    for refund in refunds:
        if isinstance(refund, dict) and refund.get("id"):
            _apply(event, {"charge": charge["id"], **refund})


@handles(ACCOUNT, "payment_intent.*")
def mirror_payment_intent_charge(event: WebhookEvent) -> None:
    intent = _object(event)
    _apply_expanded(event, intent.get("latest_charge"))
    for charge in (intent.get("charges") or {}).get("data") or []:
        _apply_expanded(event, charge)


@handles(ACCOUNT, "checkout.session.completed", "checkout.session.async_payment_succeeded")
def mirror_checkout_session(event: WebhookEvent) -> None:
    session = _object(event)
    _apply_expanded(event, session.get("customer"))
    _apply_expanded(event, session.get("subscription"))
