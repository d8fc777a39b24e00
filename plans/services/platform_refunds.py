"""Staff refunding a platform charge (a plan invoice, an extras pack) in the platform's Stripe (SPEC §9, issue 16).

Once per `refund_request_id`, even at once: the `PlatformRefund` row (unique request id) is the claim, committed
before Stripe is called, and the id is Stripe's idempotency key. A second request with the id finds the row:
succeeded, it answers the first one's result; pending, it is refused (409 `refund_in_progress`); failed, it takes
the row over and asks Stripe again with the same key (a refund Stripe made while we could not hear it is replayed,
never made twice). What is left is checked on Stripe's live charge first (a clear 422), then by Stripe itself.

A pack's units are clawed back by metering's `charge.refunded` platform handler when Stripe's webhook arrives:
nothing here calls metering."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.stripe.client import StripeClient
from core.errors import AppError, Conflict, NotFound, StripeRejected, Unprocessable
from plans.models import AccountSubscription, PlatformRefund

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
_REFUSAL_CODES = {"amount_too_large": "refund_exceeds_remaining", "charge_already_refunded": "charge_already_refunded"}
ABANDONED_AFTER_SECONDS = 600


@dataclass(frozen=True)
class PlatformRefundOutcome:
    refund: PlatformRefund
    created: bool  # False: an earlier request with this id refunded; this is its result


def idempotency_key(request_id: str) -> str:
    return f"platform:refund:{request_id}"


def platform_charge_refund(
    *, charge_id: str, amount: int | None, reason: str, request_id: str, user
) -> PlatformRefundOutcome:
    row, fresh = _claim(charge_id=charge_id, amount=amount, reason=reason, request_id=request_id, user=user)
    if row.status == PlatformRefund.Status.SUCCEEDED:
        return PlatformRefundOutcome(refund=row, created=False)
    client = StripeClient.for_platform()
    try:
        if fresh:
            charge = _live_charge(client, charge_id)
            _check_refundable(charge, amount)
            _attribute(row, charge)
        refund = client.create(
            "/v1/refunds",
            idempotency_key=idempotency_key(request_id),
            charge=charge_id,
            amount=amount,
            reason=reason,
            metadata={"refund_request_id": request_id, "requested_by": str(user.pk) if user else ""},
        )
    except StripeRejected as exc:
        exc.code = _REFUSAL_CODES.get(exc.details.get("stripe_code"), exc.code)
        _fail(row, exc.message)
        raise
    except AppError as exc:
        _fail(row, exc.message)
        raise
    except Exception:
        _fail(row, "Internal error while refunding; the request may be retried with the same id.")
        raise
    PlatformRefund.objects.filter(pk=row.pk).update(
        status=PlatformRefund.Status.SUCCEEDED,
        refund_stripe_id=refund["id"],
        refunded_amount=refund.get("amount"),
        currency=refund.get("currency") or row.currency,
        error="",
        updated_at=timezone.now(),
    )
    row.refresh_from_db()
    return PlatformRefundOutcome(refund=row, created=True)


def _live_charge(client: StripeClient, charge_id: str) -> dict:
    try:
        return client.retrieve("/v1/charges", charge_id)
    except StripeRejected as exc:
        if exc.details.get("http_status") == 404 or exc.details.get("stripe_code") == "resource_missing":
            raise NotFound(f"The platform's Stripe has no charge {charge_id}.", code="charge_not_found") from None
        raise


def _check_refundable(charge: dict, amount: int | None) -> None:
    left = int(charge.get("amount") or 0) - int(charge.get("amount_refunded") or 0)
    details = {"charge": charge.get("id"), "remaining": max(left, 0), "currency": charge.get("currency")}
    if charge.get("refunded") or left <= 0:
        raise Unprocessable(
            f"Charge {charge.get('id')} has already been fully refunded.",
            code="charge_already_refunded",
            details=details,
        )
    if amount is not None and amount > left:
        raise Unprocessable(
            f"Refund amount ({amount}) is more than what is left to refund on charge {charge.get('id')}: "
            f"{left} ({charge.get('currency')}, minor units).",
            code="refund_exceeds_remaining",
            details=details,
        )


def _attribute(row: PlatformRefund, charge: dict) -> None:
    """The account whose platform customer paid the charge, for the record (none for a charge of no account)."""
    customer = charge.get("customer")
    customer = customer.get("id") if isinstance(customer, dict) else customer
    account_id = (
        AccountSubscription.objects.filter(stripe_customer_id=customer).values_list("account_id", flat=True).first()
        if customer
        else None
    )
    PlatformRefund.objects.filter(pk=row.pk).update(account_id=account_id, currency=charge.get("currency") or "")


def _claim(*, charge_id, amount, reason, request_id, user) -> tuple[PlatformRefund, bool]:
    try:
        with transaction.atomic():
            return (
                PlatformRefund.objects.create(
                    request_id=request_id, charge_id=charge_id, amount=amount, reason=reason, requested_by=user
                ),
                True,
            )
    except IntegrityError:
        pass  # the id is taken: by an earlier request, or one running now
    row = PlatformRefund.objects.get(request_id=request_id)
    if (row.charge_id, row.amount, row.reason) != (charge_id, amount, reason):
        raise Conflict(
            f"refund_request_id {request_id} was first used for another refund (charge {row.charge_id}, amount "
            f"{row.amount if row.amount is not None else 'what was left'}, reason {row.reason}). Use a new id.",
            code="refund_request_id_reused",
        )
    if row.status == PlatformRefund.Status.SUCCEEDED:
        return row, False
    now = timezone.now()
    taken = (
        PlatformRefund.objects.filter(pk=row.pk)
        .filter(
            Q(status=PlatformRefund.Status.FAILED)
            | Q(
                status=PlatformRefund.Status.PENDING,
                updated_at__lt=now - timedelta(seconds=ABANDONED_AFTER_SECONDS),
            )
        )
        .update(status=PlatformRefund.Status.PENDING, error="", updated_at=now)
    )
    row.refresh_from_db()
    if taken or row.status == PlatformRefund.Status.SUCCEEDED:
        return row, False
    raise Conflict(
        f"A refund with refund_request_id {request_id} is being made right now. Ask again in a moment for its result.",
        code="refund_in_progress",
    )


def _fail(row: PlatformRefund, message: str) -> None:
    PlatformRefund.objects.filter(pk=row.pk, status=PlatformRefund.Status.PENDING).update(
        status=PlatformRefund.Status.FAILED, error=message[:2000], updated_at=timezone.now()
    )
    row.status, row.error = PlatformRefund.Status.FAILED, message
