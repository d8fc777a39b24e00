"""Top-ups of a sub-account's OneBalance by payment intent on its agency's Stripe.

Asked for: the rate (marketplace/rates.py) is taken now and recorded, a currency without one is a 400; the
`TopUp` row, unique per (sub-account, request id), is the claim, committed before Stripe is called; the payment
intent is created with a key from the same request id, and its client secret goes to the SPA, which confirms it
with Stripe.js. A second request with the id answers the same intent (or 409 while the first is still calling
Stripe). Credited: only when `payment_intent.succeeded` arrives (listeners.py), once: the top-up row is locked
and the ledger entry's ref is the top-up's."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput, StripeError
from marketplace.errors import RequestInProgress
from marketplace.models import LedgerEntry, TopUp
from marketplace.money import convert
from marketplace.rates import base_currency, rate_for
from marketplace.roles import require_sub_account
from marketplace.services.customers import store_customer_ensure
from marketplace.services.ledger import balance_locked, ledger_append
from marketplace.services.stripe_access import agency_client, agency_key

# A claim still without a payment intent after this belongs to a request that died: a retry may take it over.
CLAIM_ABANDONED_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class TopUpOutcome:
    top_up: TopUp
    client_secret: str
    created: bool


def top_up_create(*, account, user, amount: int, currency: str, request_id: str) -> TopUpOutcome:
    """Raises NotASubAccount (403), InvalidInput (400) `no_exchange_rate`, Conflict (409)
    `top_up_request_id_reused`, RequestInProgress (409), StripeError (422/502: the top-up `failed`, retriable with
    the same id)."""
    agency = require_sub_account(account)
    currency = currency.lower()
    existing = TopUp.objects.filter(account=account, top_up_request_id=request_id).first()
    if existing is not None:
        outcome = _replay(existing, amount=amount, currency=currency, take_over=False)
        if outcome is not None:
            return outcome
    quote = rate_for(currency)
    if quote is None:
        raise InvalidInput(
            f"No exchange rate from {currency.upper()} to {base_currency().upper()}: top up in "
            f"{base_currency().upper()}, or ask staff to add the rate.",
            code="no_exchange_rate",
            details={"fields": {"currency": [f"No rate to {base_currency().upper()}."]}},
        )
    base_amount = convert(amount, currency=currency, to_currency=base_currency(), rate=quote.rate)
    if base_amount <= 0:
        raise InvalidInput("The amount is too small to credit anything once converted.")
    customer = store_customer_ensure(sub_account=account, agency=agency)
    if existing is not None:
        outcome = _replay(existing, amount=amount, currency=currency, take_over=True)
        if outcome is not None:
            return outcome
        existing.refresh_from_db()
        top_up = existing
    else:
        try:
            with transaction.atomic():
                top_up = TopUp.objects.create(
                    account=account,
                    agency=agency,
                    top_up_request_id=request_id,
                    requested_by=user,
                    amount=amount,
                    currency=currency,
                    base_amount=base_amount,
                    base_currency=base_currency(),
                    rate=quote.rate,
                    rate_source=quote.source,
                )
        except IntegrityError:
            top_up = TopUp.objects.get(account=account, top_up_request_id=request_id)
            outcome = _replay(top_up, amount=amount, currency=currency, take_over=True)
            if outcome is not None:
                return outcome
    try:
        intent = agency_client(agency=agency).create(
            "/v1/payment_intents",
            idempotency_key=agency_key(agency=agency, action=f"top_up:{account.pk}", request_id=request_id),
            amount=amount,
            currency=currency,
            customer=customer.stripe_customer_id,
            metadata={"marketplace": "top_up", "top_up_id": str(top_up.pk), "sub_account_id": str(account.pk)},
        )
    except StripeError as exc:
        TopUp.objects.filter(pk=top_up.pk).update(
            status=TopUp.Status.FAILED, failure_code=exc.code, failure_message=exc.message
        )
        raise
    TopUp.objects.filter(pk=top_up.pk).update(payment_intent_id=intent["id"])
    top_up.payment_intent_id = intent["id"]
    return TopUpOutcome(top_up=top_up, client_secret=intent["client_secret"], created=True)


def _replay(existing: TopUp, *, amount: int, currency: str, take_over: bool) -> TopUpOutcome | None:
    """As purchases' `_replay`: the top-up and its intent's client secret, a refusal, or None when a failed or
    abandoned first attempt may be taken over (only with `take_over`, by a conditional UPDATE)."""
    if (existing.amount, existing.currency) != (amount, currency):
        raise Conflict(
            f"top_up_request_id {existing.top_up_request_id} was already used for {existing.amount} "
            f"{existing.currency.upper()}: use a new id for a new top-up.",
            code="top_up_request_id_reused",
        )
    if existing.payment_intent_id:
        intent = agency_client(agency=existing.agency).retrieve("/v1/payment_intents", existing.payment_intent_id)
        return TopUpOutcome(top_up=existing, client_secret=intent["client_secret"], created=False)
    abandoned = existing.status == TopUp.Status.PENDING and existing.updated_at < timezone.now() - CLAIM_ABANDONED_AFTER
    if existing.status == TopUp.Status.FAILED or abandoned:
        # No intent yet: Stripe could not be reached or refused, or the first request died. Try again, same key.
        if not take_over:
            return None
        rows = TopUp.objects.filter(pk=existing.pk, status=existing.status, updated_at=existing.updated_at)
        if rows.update(status=TopUp.Status.PENDING, failure_code="", failure_message="", updated_at=timezone.now()):
            return None
    raise RequestInProgress("A request with this top_up_request_id is still being processed; ask again in a moment.")


# --- what Stripe's webhooks confirm (called by listeners.py, inside the event's transaction) ---------------------


def top_up_credit(*, agency, top_up_id: str, payment_intent: dict) -> bool:
    """Credits the top-up's `base_amount` once; answers whether it did. The top-up row is locked, then the
    balance row (the lock order everywhere)."""
    top_up = TopUp.objects.select_for_update().filter(pk=top_up_id, agency=agency).first()
    if top_up is None or top_up.status == TopUp.Status.SUCCEEDED:
        return False
    if int(payment_intent.get("amount_received") or payment_intent.get("amount") or 0) != top_up.amount or (
        payment_intent.get("currency", "").lower() != top_up.currency
    ):
        raise ValueError(f"payment intent {payment_intent.get('id')} does not match top-up {top_up.pk}")
    balance = balance_locked(account=top_up.account, agency=top_up.agency)
    try:
        ledger_append(
            balance=balance,
            kind=LedgerEntry.Kind.TOP_UP,
            amount=top_up.base_amount,
            ref=f"top_up:{top_up.pk}",
            description=f"Top-up {top_up.amount} {top_up.currency.upper()} ({payment_intent.get('id')})",
            original_amount=top_up.amount,
            original_currency=top_up.currency,
            rate=top_up.rate,
            rate_source=top_up.rate_source,
        )
    except IntegrityError:
        return False  # already credited (the entry is the proof)
    TopUp.objects.filter(pk=top_up.pk).update(
        status=TopUp.Status.SUCCEEDED,
        credited_at=timezone.now(),
        payment_intent_id=payment_intent.get("id") or top_up.payment_intent_id,
        failure_code="",
        failure_message="",
    )
    return True


def top_up_payment_failed(*, agency, top_up_id: str, payment_intent: dict) -> None:
    error = payment_intent.get("last_payment_error") or {}
    TopUp.objects.filter(pk=top_up_id, agency=agency, status=TopUp.Status.PENDING).update(
        status=TopUp.Status.FAILED,
        failure_code=(error.get("decline_code") or error.get("code") or "payment_failed")[:100],
        failure_message=error.get("message") or "The payment failed.",
    )


def top_up_refunded(*, agency, charge: dict) -> bool:
    """Takes a refunded top-up's money out of the balance, in the balance's currency at the top-up's rate, once
    per refunded total Stripe reports (the ref names it), never more than was credited."""
    intent_id = charge.get("payment_intent") or ""
    if not intent_id:
        return False
    top_up = TopUp.objects.select_for_update().filter(agency=agency, payment_intent_id=intent_id).first()
    if top_up is None or top_up.status != TopUp.Status.SUCCEEDED:
        return False
    refunded = int(charge.get("amount_refunded") or 0)
    if refunded <= top_up.refunded_amount:
        return False  # an older or repeated event
    to_base = lambda original: min(  # noqa: E731
        top_up.base_amount,
        convert(original, currency=top_up.currency, to_currency=top_up.base_currency, rate=top_up.rate),
    )
    debit = to_base(refunded) - to_base(top_up.refunded_amount)
    TopUp.objects.filter(pk=top_up.pk).update(refunded_amount=refunded)
    if debit <= 0:
        return False
    balance = balance_locked(account=top_up.account, agency=top_up.agency)
    ledger_append(
        balance=balance,
        kind=LedgerEntry.Kind.REFUND,
        amount=-debit,
        ref=f"top_up_refund:{top_up.pk}:{refunded}",
        description=f"Refund of top-up {top_up.pk} ({charge.get('id')}): {refunded} {top_up.currency.upper()} in all",
        original_amount=refunded - top_up.refunded_amount,
        original_currency=top_up.currency,
        rate=top_up.rate,
        rate_source=top_up.rate_source,
    )
    return True
