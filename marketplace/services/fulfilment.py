"""What Stripe's webhooks confirm about purchases (called by listeners.py, inside the event's transaction: no
Stripe call here). Each transition is a conditional UPDATE, so a repeated or concurrent event changes nothing
the second time, and the follow-up work is queued only by the event that made the transition."""

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from core.queue import enqueue_on_commit
from marketplace.models import Purchase

PROVISION_TASK = "marketplace.provision_purchase"


def purchase_paid(*, agency, purchase_id: str = "", payment_intent_id: str = "", subscription_id: str = "") -> bool:
    """pending (or failed: Stripe's later success wins) → fulfilled, once; queues the provisioning."""
    rows = Purchase.objects.filter(agency=agency, status__in=[Purchase.Status.PENDING, Purchase.Status.FAILED])
    rows = _match(rows, purchase_id=purchase_id, payment_intent_id=payment_intent_id, subscription_id=subscription_id)
    pks = list(rows.values_list("pk", flat=True)[:1])
    if not pks:
        return False
    changes = {
        "status": Purchase.Status.FULFILLED,
        "fulfilled_at": timezone.now(),
        "failure_code": "",
        "failure_message": "",
    }
    if payment_intent_id:
        changes["payment_intent_id"] = payment_intent_id
    if not Purchase.objects.filter(pk=pks[0], status__in=[Purchase.Status.PENDING, Purchase.Status.FAILED]).update(
        **changes
    ):
        return False
    enqueue_on_commit(PROVISION_TASK, str(pks[0]))
    return True


def purchase_payment_failed(
    *, agency, error: dict, purchase_id: str = "", payment_intent_id: str = "", subscription_id: str = ""
) -> bool:
    rows = _match(
        Purchase.objects.filter(agency=agency, status=Purchase.Status.PENDING),
        purchase_id=purchase_id,
        payment_intent_id=payment_intent_id,
        subscription_id=subscription_id,
    )
    return bool(
        rows.update(
            status=Purchase.Status.FAILED,
            failure_code=(error.get("decline_code") or error.get("code") or "payment_failed")[:100],
            failure_message=error.get("message") or "The payment failed.",
        )
    )


def purchase_refunded(*, agency, charge: dict) -> bool:
    """Records what Stripe says is refunded on the purchase's charge (only ever more); all of it → `refunded`."""
    intent_id = charge.get("payment_intent") or ""
    condition = Q(charge_id=charge.get("id")) | (Q(payment_intent_id=intent_id) if intent_id else Q(pk__in=[]))
    refunded = int(charge.get("amount_refunded") or 0)
    rows = Purchase.objects.filter(condition, agency=agency, refunded_amount__lt=refunded)
    changes = {"refunded_amount": refunded, "refunded_at": timezone.now()}
    if charge.get("refunded") or refunded >= int(charge.get("amount") or 0):
        changes["status"] = Purchase.Status.REFUNDED
    return bool(rows.update(**changes))


def purchase_provision(*, purchase_id: str) -> bool:
    """The follow-up work of a fulfilled purchase (the task's service), once: one conditional UPDATE stamps it, so a
    second message for it (the sweep below re-sending one that was only slow, a redelivery) does nothing. Where an
    add-on needs real provisioning (a phone number, a listing), it goes here, keyed on the purchase id (the key to
    give the outside system, so that a worker dying between its call and this stamp does not provision twice).
    `provision_runs` counts the runs that did the work."""
    return bool(
        Purchase.objects.filter(pk=purchase_id, status=Purchase.Status.FULFILLED, provisioned_at__isnull=True).update(
            provisioned_at=timezone.now(), provision_runs=F("provision_runs") + 1
        )
    )


def purchases_provision_requeue(*, limit: int = 500) -> int:
    """Queues again the provisioning of fulfilled purchases still not provisioned MARKETPLACE_PROVISION_GRACE_SECONDS
    after their fulfilment: the message queued by the webhook lives only in Redis, and a Redis lost (or flushed)
    before a worker took it would otherwise leave the purchase paid for and never provisioned (beat, every 5
    minutes). Answers how many were queued."""
    due = timezone.now() - timedelta(seconds=settings.MARKETPLACE_PROVISION_GRACE_SECONDS)
    pks = list(
        Purchase.objects.filter(status=Purchase.Status.FULFILLED, provisioned_at__isnull=True, fulfilled_at__lt=due)
        .order_by("fulfilled_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in pks:
        enqueue_on_commit(PROVISION_TASK, str(pk))
    return len(pks)


def _match(rows, *, purchase_id: str, payment_intent_id: str, subscription_id: str):
    if purchase_id:
        return rows.filter(pk=purchase_id)
    if payment_intent_id:
        return rows.filter(payment_intent_id=payment_intent_id)
    if subscription_id:
        return rows.filter(subscription_id=subscription_id)
    return rows.none()
