"""Buying a credit pack (METERING.md "Top-up"): a Stripe Checkout session in payment mode on the platform's
Stripe, for the account's platform customer. The pack is credited by the `checkout.session.completed` listener
(metering/handlers.py) once the session is paid, never here."""

import uuid

from django.conf import settings

from accounts.models import Account
from billing.stripe.client import StripeClient
from core.errors import InvalidInput
from metering.packs import pack_get, packs
from metering.services.extras import EXTRAS_KIND
from plans.services.platform_customer import platform_customer_ensure


def extras_checkout_create(*, account: Account, pack_id: str) -> dict:
    """Answers `{"checkout_url", "session_id", "pack_id"}`. Each call is a new session (its idempotency key is
    new: an abandoned session expires on its own); the metadata names the account and the pack, on the session
    and on its payment intent (a refund or dispute event carries the payment intent)."""
    pack = pack_get(pack_id)
    if pack is None:
        raise InvalidInput(
            f"Unknown pack {pack_id!r}: one of {sorted(packs())}.", code="unknown_pack", details={"pack_id": pack_id}
        )
    customer = platform_customer_ensure(account=account)
    metadata = {"kind": EXTRAS_KIND, "pack_id": pack.pack_id, "account_id": str(account.pk)}
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    session = StripeClient.for_platform().create(
        "/v1/checkout/sessions",
        idempotency_key=f"platform:account:{account.pk}:extras-checkout:{uuid.uuid4().hex}",
        mode="payment",
        customer=customer,
        line_items=[
            {
                "quantity": 1,
                "price_data": {
                    "currency": pack.currency,
                    "unit_amount": pack.price_cents,
                    "product_data": {"name": f"Extras: {pack.units:,} units ({pack.pack_id})"},
                },
            }
        ],
        metadata=metadata,
        payment_intent_data={"metadata": metadata},
        success_url=f"{base}/billing/extras?checkout=success",
        cancel_url=f"{base}/billing/extras?checkout=canceled",
    )
    return {"checkout_url": session["url"], "session_id": session["id"], "pack_id": pack.pack_id}
