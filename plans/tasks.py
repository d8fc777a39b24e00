"""Thin Celery tasks of our billing of accounts (sent by name; see docs/architecture.md)."""

from celery import shared_task

from core.backoff import backoff_delay
from core.errors import StripeUnavailable
from plans.services.resync import checkout_subscription_sync
from plans.services.stripe_shapes import timestamp
from plans.services.subscription_state import Stamp

MAX_RETRIES = 8


@shared_task(name="plans.sync_checkout_subscription", bind=True, max_retries=MAX_RETRIES)
def sync_checkout_subscription(
    self, *, account_subscription_id: int, subscription_id: str, event_created: int, event_id: str
) -> bool:
    """A completed checkout's subscription, retrieved from the platform's Stripe and applied (retried while Stripe
    is unreachable)."""
    try:
        return checkout_subscription_sync(
            account_subscription_id=account_subscription_id,
            subscription_id=subscription_id,
            stamp=Stamp(created=timestamp(event_created), event_id=event_id),
        )
    except StripeUnavailable as exc:
        raise self.retry(
            exc=exc,
            countdown=backoff_delay(
                self.request.retries, base=2, cap=300, retry_after=getattr(exc, "retry_after", None)
            ),
        ) from exc


@shared_task(name="plans.run_dunning")
def run_dunning() -> dict:
    """Daily (beat): past_due too long → unpaid on the default plan (plans/services/dunning.py)."""
    from plans.services.dunning import dunning_run

    return dunning_run()


@shared_task(name="plans.run_reconciliation")
def run_reconciliation() -> dict:
    """Weekly (beat, Sunday 03:00 UTC): our subscriptions vs the platform's Stripe; differences recorded only."""
    from plans.services.reconciliation import reconciliation_run

    return reconciliation_run()


@shared_task(name="plans.force_sync_divergence")
def force_sync_divergence(*, divergence_id: int) -> str:
    """Staff's force sync of one divergence (queued by the admin action): Stripe → DB, then resolved."""
    from plans.services.reconciliation import divergence_force_sync

    return divergence_force_sync(divergence_id=divergence_id)


@shared_task(name="plans.resync_account_subscription")
def resync_account_subscription(*, account_subscription_id: int) -> bool:
    """Staff's re-sync of one account subscription (queued by the admin action)."""
    from plans.models import AccountSubscription
    from plans.services.resync import account_subscription_resync

    subscription = AccountSubscription.objects.filter(pk=account_subscription_id).first()
    return bool(subscription) and account_subscription_resync(account_subscription=subscription)
