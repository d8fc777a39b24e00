"""A sub-account buys an add-on from its agency's store, on the agency's own Stripe (docs/marketplace.md).

Once per `purchase_request_id`, even sent twice at once: the `Purchase` row, unique per (buyer, request id), is
the claim, committed before Stripe is called, and every Stripe create carries a key from the same request id.
A second request with the id finds the row: it answers that purchase (pending, fulfilled or failed) once Stripe
has been called for it, and is refused (409 `request_in_progress`) while the first request is still calling
Stripe. Only a purchase that failed because Stripe could not be reached is tried again with the same id (the
same idempotency keys: a charge Stripe did make while we could not hear it is replayed, never made twice).

- one-off: one payment intent for the add-on line (unit amount × quantity) plus the setup-fee line, confirmed off
  session with the sub-account's default card; both lines are kept on the purchase and in the intent's metadata;
- recurring: the setup fee as a pending invoice item, then a subscription to the price, whose first invoice
  carries both lines and is charged to the customer's default card.
The purchase stays `pending` until Stripe's webhook confirms the payment (marketplace/listeners.py)."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, NotFound, StripeRejected, StripeUnavailable
from marketplace.errors import RequestInProgress
from marketplace.models import Purchase, StorePrice
from marketplace.roles import require_sub_account
from marketplace.services.customers import default_payment_method, store_customer_ensure
from marketplace.services.stripe_access import agency_client, agency_key

# Stripe answers a card decline with HTTP 402; any other refusal is the request's fault (422).
CARD_DECLINED_STATUS = 402
# A failure of these kinds may be retried with the same purchase_request_id (Stripe may or may not have acted).
UNREACHABLE_CODES = (StripeUnavailable.code, "stripe_rate_limited")
# A claim still without a Stripe answer after this belongs to a request that died before calling Stripe (or
# while): a retry may take it over. Far longer than a Stripe call can last; the same keys make it safe anyway.
CLAIM_ABANDONED_AFTER = timedelta(minutes=10)


class PaymentDeclined(StripeRejected):
    status = 402
    code = "card_declined"


@dataclass(frozen=True)
class PurchaseOutcome:
    purchase: Purchase
    created: bool  # False: an earlier request with this id made it, this is its state


def purchase_create(*, buyer, user, price_id: str, quantity: int = 1, request_id: str) -> PurchaseOutcome:
    """Raises NotASubAccount (403), NotFound (404) for a price not for sale in the buyer's agency's store,
    Conflict (409) `no_payment_method` or `purchase_request_id_reused`, RequestInProgress (409),
    PaymentDeclined (402: the purchase is kept `failed` with Stripe's reason), StripeRejected (422) and
    StripeUnavailable (502) with the purchase `failed`."""
    agency = require_sub_account(buyer)
    existing = Purchase.objects.select_related("price").filter(buyer=buyer, purchase_request_id=request_id).first()
    if existing is not None:
        # A repeated request answers what the first one made, even if the price has been taken off sale since.
        outcome = _replay(existing, price_id=price_id, quantity=quantity, take_over=False)
        if outcome is not None:
            return outcome
    price = (
        StorePrice.objects.select_related("product")
        .filter(agency=agency, stripe_id=price_id, active=True, product__active=True)
        .first()
    )
    if price is None:
        raise NotFound(f"No add-on price {price_id} is for sale in your agency's store.")
    # Stripe reads that may refuse (no card: 409) come before the claim, so a refusal leaves nothing behind.
    client = agency_client(agency=agency)
    customer = store_customer_ensure(sub_account=buyer, agency=agency)
    card = default_payment_method(client=client, customer=customer)
    if existing is not None:
        outcome = _replay(existing, price_id=price_id, quantity=quantity, take_over=True)
        if outcome is not None:
            return outcome
        existing.refresh_from_db()
        purchase = existing
    else:
        purchase = _claim(buyer=buyer, agency=agency, price=price, quantity=quantity, user=user, request_id=request_id)
        if isinstance(purchase, PurchaseOutcome):
            return purchase
    try:
        if price.is_recurring:
            _subscribe(client, purchase=purchase, price=price, customer_id=customer.stripe_customer_id, card=card)
        else:
            _charge(client, purchase=purchase, price=price, customer_id=customer.stripe_customer_id, card=card)
    except StripeRejected as exc:
        _fail(purchase, code=exc.details.get("stripe_code") or exc.code, message=exc.message)
        if exc.details.get("http_status") == CARD_DECLINED_STATUS:
            raise PaymentDeclined(
                exc.message, details={**exc.details, "purchase_id": str(purchase.pk), "status": "failed"}
            ) from None
        raise
    except StripeUnavailable as exc:
        _fail(purchase, code=exc.code, message=exc.message)
        raise
    return PurchaseOutcome(purchase=purchase, created=True)


def _replay(existing: Purchase, *, price_id: str, quantity: int, take_over: bool) -> PurchaseOutcome | None:
    """What a request with an id already claimed gets: the purchase (an outcome), a refusal, or None when the
    first attempt can be taken over and Stripe called again with the same keys (a failure because Stripe could not
    be reached, or a claim abandoned by a request that died before calling Stripe). Only with `take_over` is the
    row taken (a conditional UPDATE: one request wins)."""
    if existing.price.stripe_id != price_id or existing.quantity != quantity:
        raise Conflict(
            f"purchase_request_id {existing.purchase_request_id} was already used for another purchase "
            f"({existing.price.stripe_id} × {existing.quantity}): use a new id for a new purchase.",
            code="purchase_request_id_reused",
        )
    unreachable = existing.status == Purchase.Status.FAILED and existing.failure_code in UNREACHABLE_CODES
    unanswered = existing.status == Purchase.Status.PENDING and not (
        existing.payment_intent_id or existing.subscription_id
    )
    abandoned = unanswered and existing.updated_at < timezone.now() - CLAIM_ABANDONED_AFTER
    if unreachable or abandoned:
        if not take_over:
            return None
        rows = Purchase.objects.filter(pk=existing.pk, status=existing.status, updated_at=existing.updated_at)
        if rows.update(status=Purchase.Status.PENDING, failure_code="", failure_message="", updated_at=timezone.now()):
            return None
        raise RequestInProgress("This purchase is being retried by another request; ask again in a moment.")
    if unanswered:
        raise RequestInProgress(
            "A request with this purchase_request_id is still being processed; ask again in a moment."
        )
    return PurchaseOutcome(purchase=existing, created=False)


def _claim(*, buyer, agency, price, quantity, user, request_id):
    try:
        with transaction.atomic():
            return Purchase.objects.create(
                buyer=buyer,
                agency=agency,
                price=price,
                purchase_request_id=request_id,
                requested_by=user,
                kind=Purchase.Kind.RECURRING if price.is_recurring else Purchase.Kind.ONE_OFF,
                quantity=quantity,
                currency=price.currency,
                amount=price.unit_amount * quantity,
                setup_fee_amount=price.setup_fee_amount or 0,
            )
    except IntegrityError:
        # The same id at the same moment: the other request holds the claim.
        existing = Purchase.objects.select_related("price").get(buyer=buyer, purchase_request_id=request_id)
        outcome = _replay(existing, price_id=price.stripe_id, quantity=quantity, take_over=True)
        if outcome is None:
            existing.refresh_from_db()
            return existing
        return outcome


def _metadata(purchase: Purchase) -> dict:
    return {
        "marketplace": "purchase",
        "purchase_id": str(purchase.pk),
        "sub_account_id": str(purchase.buyer_id),
        "addon_amount": str(purchase.amount),
        "setup_fee_amount": str(purchase.setup_fee_amount),
    }


def _charge(client, *, purchase: Purchase, price: StorePrice, customer_id: str, card: str) -> None:
    key = agency_key(
        agency=purchase.agency, action=f"purchase:{purchase.buyer_id}", request_id=purchase.purchase_request_id
    )
    intent = client.create(
        "/v1/payment_intents",
        idempotency_key=key,
        amount=purchase.total_amount,
        currency=purchase.currency,
        customer=customer_id,
        payment_method=card,
        confirm=True,
        off_session=True,
        metadata=_metadata(purchase),
    )
    latest = intent.get("latest_charge")
    charge_id = latest.get("id", "") if isinstance(latest, dict) else (latest or "")
    Purchase.objects.filter(pk=purchase.pk).update(payment_intent_id=intent["id"], charge_id=charge_id)
    purchase.payment_intent_id, purchase.charge_id = intent["id"], charge_id


def _subscribe(client, *, purchase: Purchase, price: StorePrice, customer_id: str, card: str) -> None:
    base = f"purchase:{purchase.buyer_id}"
    agency, request_id = purchase.agency, purchase.purchase_request_id
    # The subscription's invoices are charged to the customer's default card (the card chosen, or the newest).
    client.update("/v1/customers", customer_id, invoice_settings={"default_payment_method": card})
    if price.setup_fee_stripe_id:
        # Pending: Stripe puts it on the subscription's first invoice, beside the add-on's line.
        client.create(
            "/v1/invoiceitems",
            idempotency_key=agency_key(agency=agency, action=f"{base}:setup_fee", request_id=request_id),
            customer=customer_id,
            price=price.setup_fee_stripe_id,
            metadata=_metadata(purchase),
        )
    subscription = client.create(
        "/v1/subscriptions",
        idempotency_key=agency_key(agency=agency, action=f"{base}:subscription", request_id=request_id),
        customer=customer_id,
        items=[{"price": price.stripe_id, "quantity": purchase.quantity}],
        metadata=_metadata(purchase),
    )
    Purchase.objects.filter(pk=purchase.pk).update(subscription_id=subscription["id"])
    purchase.subscription_id = subscription["id"]


def _fail(purchase: Purchase, *, code: str, message: str) -> None:
    Purchase.objects.filter(pk=purchase.pk, status=Purchase.Status.PENDING).update(
        status=Purchase.Status.FAILED, failure_code=code[:100], failure_message=message
    )
    purchase.refresh_from_db()
