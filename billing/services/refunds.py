"""The account refunding its own customer (SPEC §4, with §9's rules), on its own Stripe.

Once per `refund_request_id`, even at once: the `RefundRequest` row, unique per (account, request id), is the
claim, inserted and committed before Stripe is called. A second request with the id finds the row: succeeded, it
answers the first one's result; pending, it is refused (409 `refund_in_progress`) rather than queued behind a
Stripe call of unknown length; failed, it takes the row over and calls Stripe again with the same idempotency key,
so a refund Stripe did make while we could not hear its answer (a timeout) is replayed, never made twice.

What is left on the charge is checked on our mirror first (a message naming what is left, without a call), then
by Stripe, which decides: two different requests racing for the last of a charge both pass our check, and Stripe
refuses the one that comes second. Every outcome is recorded on the row: who asked, why, and what Stripe said."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import Charge, RefundRequest
from billing.services.account_stripe import account_client, idempotency_key, mirror_saved
from core.errors import AppError, Conflict, StripeRejected, Unprocessable

# Stripe's reasons for a refund; anything more the account wants to say goes in our `note`.
REASONS = ("duplicate", "fraudulent", "requested_by_customer")

# A pending row older than this belongs to a request that died between its claim and its outcome (a killed
# worker): a retry may take it over. Far longer than a Stripe call can last (timeout × attempts); taking over a
# row whose call is in fact still running is safe anyway: the same idempotency key is refused while in flight.
PENDING_ABANDONED_AFTER = timedelta(minutes=10)

# Stripe's refusals that mean "not that much left": the same codes as our own check on the mirror.
_REFUSAL_CODES = {"amount_too_large": "refund_exceeds_remaining", "charge_already_refunded": "charge_already_refunded"}


@dataclass(frozen=True)
class RefundOutcome:
    request: RefundRequest
    charge: Charge  # the mirrored charge, as it stands after the refund
    created: bool  # False: an earlier request with this id had already refunded, this is its result


def charge_refund(
    *, account, charge: Charge, amount: int | None, reason: str, request_id: str, user, note: str = ""
) -> RefundOutcome:
    """Refunds `amount` (minor units; None: what is left) of the mirrored `charge` in the account's Stripe, once
    per `request_id`, then writes the refund and the charge's new totals to the mirror.

    Raises Conflict (409) `refund_in_progress` while the id's first request runs, `refund_request_id_reused` for
    the id with another charge, amount or reason; Unprocessable / StripeRejected (422) `refund_exceeds_remaining`,
    `charge_already_refunded`, `stripe_rejected`; StripeUnavailable (502): nothing written to the mirror, the row
    failed, the id retriable; NoStripeConnection (409) before anything is claimed, StripeAuthFailed (409) with the
    row failed. Should the mirror write fail after Stripe refunded, the row stays pending until it counts as
    abandoned; a retry then replays Stripe's refund through the same idempotency key."""
    client = account_client(account=account)
    row, fresh = _claim(
        account=account, charge=charge, amount=amount, reason=reason, request_id=request_id, user=user, note=note
    )
    if row.status == RefundRequest.Status.SUCCEEDED:
        return RefundOutcome(request=row, charge=charge, created=False)
    try:
        if fresh:
            # A retry skips it: its first attempt may have refunded already, which only Stripe can replay.
            _check_refundable(charge, amount)
        params = {
            "charge": charge.stripe_id,
            "amount": amount,
            "reason": reason,
            "metadata": {"refund_request_id": request_id},
            "expand": ["charge"],  # the charge's new totals in the same answer: no second call that could fail
        }
        refund = client.create(
            "/v1/refunds",
            idempotency_key=idempotency_key(account=account, action="refund", request_id=request_id),
            **params,
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
    with transaction.atomic():
        charge = _mirror_refund(account=account, charge=charge, refund=refund)
        RefundRequest.objects.filter(pk=row.pk).update(
            status=RefundRequest.Status.SUCCEEDED,
            refund_stripe_id=refund["id"],
            refunded_amount=refund.get("amount"),
            currency=refund.get("currency") or row.currency,
            error="",
            updated_at=timezone.now(),
        )
    row.refresh_from_db()
    return RefundOutcome(request=row, charge=charge, created=True)


def _claim(*, account, charge, amount, reason, request_id, user, note) -> tuple[RefundRequest, bool]:
    """The row for `request_id`, claimed for this request (status pending), or a succeeded one to answer.
    Answers (row, fresh): fresh when this request inserted it."""
    try:
        with transaction.atomic():
            row = RefundRequest.objects.create(
                account=account,
                request_id=request_id,
                charge_stripe_id=charge.stripe_id,
                amount=amount,
                currency=charge.currency,
                reason=reason,
                note=note,
                requested_by=user,
            )
        return row, True
    except IntegrityError:
        pass  # the id is taken: by an earlier request, or one running now
    row = RefundRequest.objects.for_account(account).select_related("requested_by").get(request_id=request_id)
    if (row.charge_stripe_id, row.amount, row.reason) != (charge.stripe_id, amount, reason):
        raise Conflict(
            f"refund_request_id {request_id} was first used for another refund (charge {row.charge_stripe_id}, "
            f"amount {row.amount if row.amount is not None else 'what was left'}, reason {row.reason}). "
            "Use a new refund_request_id for a different refund.",
            code="refund_request_id_reused",
            details={"charge": row.charge_stripe_id, "amount": row.amount, "reason": row.reason},
        )
    if row.status == RefundRequest.Status.SUCCEEDED:
        return row, False
    # Failed, or pending and abandoned: take it over, one taker only (a conditional UPDATE).
    now = timezone.now()
    taken = (
        RefundRequest.objects.filter(pk=row.pk)
        .filter(
            Q(status=RefundRequest.Status.FAILED)
            | Q(status=RefundRequest.Status.PENDING, updated_at__lt=now - PENDING_ABANDONED_AFTER)
        )
        .update(status=RefundRequest.Status.PENDING, error="", updated_at=now)
    )
    row.refresh_from_db()
    if taken:
        return row, False
    if row.status == RefundRequest.Status.SUCCEEDED:  # finished between our two reads
        return row, False
    raise Conflict(
        f"A refund with refund_request_id {request_id} is being made right now. Ask again in a moment for its result.",
        code="refund_in_progress",
    )


def _check_refundable(charge: Charge, amount: int | None) -> None:
    left = charge.amount - charge.amount_refunded
    details = {"charge": charge.stripe_id, "remaining": max(left, 0), "currency": charge.currency}
    if charge.refunded or left <= 0:
        raise Unprocessable(
            f"Charge {charge.stripe_id} has already been fully refunded.",
            code="charge_already_refunded",
            details=details,
        )
    if amount is not None and amount > left:
        raise Unprocessable(
            f"Refund amount ({amount}) is more than what is left to refund on charge {charge.stripe_id}: "
            f"{left} ({charge.currency}, minor units).",
            code="refund_exceeds_remaining",
            details=details,
        )


def _mirror_refund(*, account, charge: Charge, refund: dict) -> Charge:
    """The refund, and the charge's totals from the refund's expanded charge. Totals only grow through refunds:
    two refunds of one charge answered at once must not leave the older total in the mirror (each answer carries
    the charge as it was when that refund was made), so the charge is written under its row lock, and only when
    the answer's total is not behind the mirror's."""
    snapshot = refund.get("charge")
    held = Charge.objects.select_for_update().filter(pk=charge.pk).values_list("amount_refunded", flat=True).first()
    if isinstance(snapshot, dict) and (held is None or int(snapshot.get("amount_refunded") or 0) >= held):
        charge = mirror_saved(account=account, obj=snapshot)
    else:
        charge = Charge.objects.get(pk=charge.pk)
    mirror_saved(account=account, obj=refund)
    return charge


def _fail(row: RefundRequest, message: str) -> None:
    RefundRequest.objects.filter(pk=row.pk, status=RefundRequest.Status.PENDING).update(
        status=RefundRequest.Status.FAILED, error=message[:2000], updated_at=timezone.now()
    )
    row.status, row.error = RefundRequest.Status.FAILED, message
