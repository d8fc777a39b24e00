"""The platform's webhook events about credit packs (Relationship.PLATFORM; registered from MeteringConfig.ready()).
They run inside the processing transaction: no Stripe call; each is idempotent by its ledger ref.

`checkout.session.completed` is plans' (subscription mode): metering listens beside it and acts only on paid
payment-mode sessions whose metadata says `kind=extras`."""

from billing.relationships import Relationship
from billing.webhooks.registry import handles, listens
from metering.services import extras

FAILED_REFUND = ("failed", "canceled")


def _object(event) -> dict:
    return event.payload["data"]["object"]


def _id(value) -> str:
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


@listens(Relationship.PLATFORM, "checkout.session.completed")
def credit_pack_paid(event) -> None:
    extras.extras_topup_from_session(session=_object(event))


@handles(Relationship.PLATFORM, "charge.refunded")
def pack_charge_refunded(event) -> None:
    """Each refund of the charge is clawed back by its own id (a list Stripe may truncate at 10: the refund's own
    `charge.refund.updated` covers any beyond)."""
    charge = _object(event)
    payment_intent = _id(charge.get("payment_intent"))
    for refund in (charge.get("refunds") or {}).get("data") or []:
        _refund(refund, payment_intent)


@handles(Relationship.PLATFORM, "charge.refund.updated")
def pack_refund_updated(event) -> None:
    refund = _object(event)
    _refund(refund, _id(refund.get("payment_intent")))


def _refund(refund: dict, payment_intent: str) -> None:
    payment_intent = _id(refund.get("payment_intent")) or payment_intent
    if refund.get("status") in FAILED_REFUND:
        extras.extras_refund_reversed(refund_id=refund["id"], payment_intent_id=payment_intent)
    else:
        extras.extras_refund_clawback(
            refund_id=refund["id"], payment_intent_id=payment_intent, refunded_cents=int(refund.get("amount") or 0)
        )


@handles(Relationship.PLATFORM, "charge.dispute.funds_withdrawn")
def pack_dispute_withdrawn(event) -> None:
    dispute = _object(event)
    extras.extras_dispute_withdrawn(dispute_id=dispute["id"], payment_intent_id=_id(dispute.get("payment_intent")))


@handles(Relationship.PLATFORM, "charge.dispute.funds_reinstated")
def pack_dispute_reinstated(event) -> None:
    dispute = _object(event)
    extras.extras_dispute_reinstated(dispute_id=dispute["id"], payment_intent_id=_id(dispute.get("payment_intent")))
