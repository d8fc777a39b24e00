"""Thin Celery tasks: take ids, call one service, let Celery retry. Services send them by name after commit
(core/queue.py), so nothing in the product imports this module; Celery finds it by autodiscovery.

Each task has an explicit name, which its senders' constants and the beat rows (PeriodicTask.task) spell: a
module moved or renamed must not strand the messages and schedules that name it. Names route to queues and
carry time limits in settings (CELERY_TASK_ROUTES, CELERY_TASK_ANNOTATIONS)."""

import logging
from datetime import datetime

from celery import shared_task

from billing.stripe import sync
from billing.webhooks import backfill, operations, processing
from core import errors
from core.backoff import backoff_delay

logger = logging.getLogger(__name__)


@shared_task(name="billing.sync_resource", bind=True, max_retries=None, acks_late=True)
def sync_resource(self, resource_id: int, account_id: str | None = None):
    """One resource of a sync run (`account_id` only labels the logs). Stripe's 429 and 5xx are retried after
    the delay the sync decides (sync_resource_retry_in), which fails the run once the retries are spent; the
    cursor in the database makes each retry go on from the last page written."""
    try:
        sync.sync_resource_run(resource_id=resource_id)
    except (errors.StripeRateLimited, errors.StripeUnavailable) as exc:
        countdown = sync.sync_resource_retry_in(resource_id=resource_id, error=exc, retries=self.request.retries)
        if countdown is None:
            return
        # An eager run (tests, scripts) re-runs a *returned* Retry in place, where a raised one would surface as
        # an error; a worker gets the usual raise.
        return self.retry(exc=exc, countdown=countdown, throw=not self.request.is_eager)


@shared_task(name="billing.process_webhook_event", bind=True, max_retries=None, acks_late=True)
def process_webhook_event(self, event_pk: int) -> str:
    """Processes one stored webhook event (a retry, a replay, the sweeper). The attempt count and dead letters
    live on the event row (not in Celery's retry count), so a retry from the sweeper or a replay continues the
    same budget."""
    outcome = processing.webhook_event_process(event_pk=event_pk)
    if outcome.retry_in is not None:
        # As sync_resource: an eager run re-runs a returned Retry in place; a worker gets the usual raise.
        return self.retry(countdown=outcome.retry_in, throw=not self.request.is_eager)
    return outcome.status


@shared_task(name="billing.process_webhook_events", bind=True, acks_late=True)
def process_webhook_events(self, event_pks: list[int], stored_at: float | None = None) -> dict:
    """Woken by intake's doorbell: processes a batch (processing.webhook_batch_run). An eager run does not
    linger: nothing else can arrive while it waits."""
    return processing.webhook_batch_run(event_pks=event_pks, stored_at=stored_at, linger=not self.request.is_eager)


@shared_task(name="billing.sweep_webhook_events")
def sweep_webhook_events() -> int:
    """Beat, every minute (PeriodicTask created by a migration, editable in the admin)."""
    return processing.webhook_events_sweep()


@shared_task(name="billing.sweep_sync_runs")
def sweep_sync_runs() -> dict:
    """Beat, every minute (PeriodicTask created by a migration): queues again the sync resources whose message
    was lost, and fails the runs that made no progress for BILLING_SYNC_STALE_MINUTES."""
    return sync.sync_runs_sweep()


@shared_task(name="billing.backfill_webhook_events")
def backfill_webhook_events() -> int:
    """Beat, hourly (PeriodicTask created by a migration): one backfill task per source."""
    return backfill.webhook_backfill_enqueue_all()


@shared_task(name="billing.backfill_webhook_source", bind=True, max_retries=5, acks_late=True)
def backfill_webhook_source(
    self, relationship: str, account_id: str | None = None, since: str | None = None, until: str | None = None
) -> dict:
    """One source's Events API backfill (billing/webhooks/backfill.py); `since`/`until` (ISO) for a staff run over
    a chosen range. Stripe's 429 and 5xx are retried with the one backoff; a source that cannot be read (its
    connection gone, its key refused) is recorded on its WebhookBackfill row and reported, not retried."""
    try:
        return backfill.webhook_events_backfill(
            relationship=relationship,
            account_id=account_id,
            since=datetime.fromisoformat(since) if since else None,
            until=datetime.fromisoformat(until) if until else None,
        ).as_dict()
    except (errors.StripeRateLimited, errors.StripeUnavailable) as exc:
        countdown = backoff_delay(self.request.retries, base=30, cap=900, retry_after=getattr(exc, "retry_after", None))
        return self.retry(exc=exc, countdown=countdown, throw=not self.request.is_eager)
    except errors.AppError as exc:
        logger.warning("Backfill of %s %s failed: %s", relationship, account_id or "", exc)
        return {"relationship": relationship, "account_id": account_id, "error": str(exc)}


@shared_task(name="billing.replay_webhook_event", bind=True, max_retries=5, acks_late=True)
def replay_webhook_event(self, event_pk: int) -> str:
    """A replay asked for in the admin (operations.webhook_events_replay_queue): Stripe unavailable is retried with
    the one backoff; the outcome is written on the event's row."""
    try:
        return operations.webhook_event_replay_queued(event_pk=event_pk, final=self.request.retries >= self.max_retries)
    except errors.StripeUnavailable as exc:
        countdown = backoff_delay(self.request.retries, base=10, cap=300, retry_after=getattr(exc, "retry_after", None))
        return self.retry(exc=exc, countdown=countdown, throw=not self.request.is_eager)
