"""Account-side webhook handlers (SPEC §0, §3): events from an account's own Stripe keep its mirror in step.

Each handler lists the objects its event carries (`mirror_handler`); they go through
`mirror.apply_event_objects` with the event's id and `created`, so an event older than what a row already holds
changes nothing (Stripe does not deliver in order), and a deletion marks the row deleted instead of removing it.
All of them share one batch form, `apply_mirror_events`, so a worker's batch of events of any of these types is
applied together. Handlers run inside the processing transaction (billing/webhooks/processing.py):
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
from collections.abc import Callable

from billing.models import WebhookEvent
from billing.relationships import Relationship
from billing.stripe import mirror
from billing.webhooks.registry import handles

logger = logging.getLogger(__name__)

# What a mirror handler reads from its event: the objects it carries, each with whether it is a deletion.
Objects = Callable[[WebhookEvent], list[tuple[dict, bool]]]


def apply_mirror_events(pairs: list[tuple[Callable, WebhookEvent]]) -> None:
    """The batch form shared by every mirror handler, given (handler, event) pairs: the objects of all the
    events, whatever their handler, go through one mirror.apply_event_objects (one lock order across tables, a
    few statements for the lot)."""
    items = [
        mirror.EventObject(event.account, obj, event.stripe_event_id, event.created, deleted)
        for handler, event in pairs
        for obj, deleted in handler.objects(event)
    ]
    applied = {id(item) for item in mirror.apply_event_objects(items)}
    for item in items:
        if id(item) not in applied:
            logger.info("%s for %s is not newer than the mirror's copy: not applied", item.event_id, item.obj["id"])


def mirror_handler(objects: Objects):
    """A handler that mirrors what `objects(event)` lists; it carries its batch form (`apply_many`), shared by
    all mirror handlers, so that a worker's batch applies them together."""

    def handler(event: WebhookEvent) -> None:
        apply_mirror_events([(handler, event)])

    handler.objects = objects
    handler.apply_many = apply_mirror_events
    handler.__name__ = handler.__qualname__ = objects.__name__
    handler.__doc__ = objects.__doc__
    return handler


def _object(event: WebhookEvent) -> dict:
    obj = (event.payload.get("data") or {}).get("object")
    return obj if isinstance(obj, dict) else {}


def _expanded(value) -> list[tuple[dict, bool]]:
    """An expandable field: mirrored when Stripe sent the object, nothing when it sent only its id."""
    if isinstance(value, dict) and value.get("id") and mirror.is_mirrored(value.get("object")):
        return [(value, False)]
    return []


@handles(
    Relationship.ACCOUNT,
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
@mirror_handler
def mirror_object(event: WebhookEvent) -> list[tuple[dict, bool]]:
    """The event's object, as is; `*.deleted` marks it deleted (a deleted draft invoice too)."""
    return [(_object(event), event.type.endswith(".deleted"))]


@handles(
    Relationship.ACCOUNT,
    "customer.subscription.*",
    "invoice.*",
    "payment_method.*",
    "charge.*",
    "charge.dispute.*",
    "charge.refund.*",
    "refund.*",
    "payout.*",
)
@mirror_handler
def mirror_state_change(event: WebhookEvent) -> list[tuple[dict, bool]]:
    """Families whose every event carries the object's new state, none of them a deletion (see the module
    docstring for subscriptions and payment methods)."""
    obj = _object(event)
    return [(obj, False)] if obj.get("id") else []  # invoice.upcoming: a preview, not an invoice


@handles(Relationship.ACCOUNT, "charge.refunded")
@mirror_handler
def mirror_refunded_charge(event: WebhookEvent) -> list[tuple[dict, bool]]:
    """The charge, and the refunds it carries (Stripe embeds them in `refunds.data` in most API versions).
    Each refund is guarded on its own row: a later `charge.refund.updated` wins over the copy embedded here."""
    charge = _object(event)
    refunds = [r for r in (charge.get("refunds") or {}).get("data") or [] if isinstance(r, dict) and r.get("id")]
    return [(charge, False)] + [({"charge": charge["id"], **refund}, False) for refund in refunds]


@handles(Relationship.ACCOUNT, "payment_intent.*")
@mirror_handler
def mirror_payment_intent_charge(event: WebhookEvent) -> list[tuple[dict, bool]]:
    intent = _object(event)
    charges = (intent.get("charges") or {}).get("data") or []
    return [pair for value in [intent.get("latest_charge"), *charges] for pair in _expanded(value)]


@handles(Relationship.ACCOUNT, "checkout.session.completed", "checkout.session.async_payment_succeeded")
@mirror_handler
def mirror_checkout_session(event: WebhookEvent) -> list[tuple[dict, bool]]:
    session = _object(event)
    return _expanded(session.get("customer")) + _expanded(session.get("subscription"))
