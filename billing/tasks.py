"""Thin Celery tasks: load by id, call a service. Queued after commit (`delay_on_commit`)."""

import time

from celery import shared_task
from django.conf import settings

from billing import errors
from billing.services import webhook_doorbell, webhooks
from billing.stripe import sync
from billing.stripe.backoff import backoff_delay


@shared_task(bind=True, max_retries=None, acks_late=True)
def sync_resource(self, resource_id: int, account_id: str | None = None):
    """One resource of a sync run (`account_id` only labels the logs). Stripe's 429 and 5xx are retried up to
    BILLING_SYNC_MAX_RETRIES times with backoff; the cursor in the database makes each retry go on from the last
    page written. Out of retries, the run fails with the reason."""
    try:
        sync.sync_resource_run(resource_id=resource_id)
    except (errors.StripeRateLimited, errors.StripeUnavailable) as exc:
        if self.request.retries >= settings.BILLING_SYNC_MAX_RETRIES:
            sync.sync_resource_give_up(resource_id=resource_id, error=exc, attempts=self.request.retries + 1)
            return
        countdown = backoff_delay(
            self.request.retries,
            base=settings.BILLING_SYNC_RETRY_BASE_SECONDS,
            cap=settings.BILLING_SYNC_RETRY_MAX_SECONDS,
            retry_after=getattr(exc, "retry_after", None),
        )
        # An eager run (tests, scripts) re-runs a *returned* Retry in place, where a raised one would surface as
        # an error; a worker gets the usual raise.
        return self.retry(exc=exc, countdown=countdown, throw=not self.request.is_eager)


@shared_task(bind=True, max_retries=None, acks_late=True)
def process_webhook_event(self, event_pk: int) -> str:
    """Processes one stored webhook event. The attempt count and dead letters live on the event row (not in
    Celery's retry count), so a retry from the sweeper or a replay continues the same budget."""
    outcome = webhooks.webhook_event_process(event_pk=event_pk)
    if outcome.retry_in is not None:
        # As sync_resource: an eager run re-runs a returned Retry in place; a worker gets the usual raise.
        return self.retry(countdown=outcome.retry_in, throw=not self.request.is_eager)
    return outcome.status


@shared_task(bind=True, acks_late=True)
def process_webhook_events(self, event_pks: list[int], stored_at: float | None = None) -> dict:
    """Wakes on intake's doorbell (billing/services/webhook_doorbell.py) and processes the events it names with
    the other pending ones, up to WEBHOOK_BATCH_MAX, together: one claim, one commit (webhook_events_process).
    One that fails gets its retry as a message of its own.

    First it lets the batch gather until WEBHOOK_BATCH_LINGER_MS after `stored_at` (when intake stored the
    events): a batch costs a fixed dozen statements whatever its size, so under load a short wait makes fewer,
    larger batches and more events per second (docs/webhooks.md)."""
    wait = webhooks.batch_wait(stored_at, now=time.time())
    if wait and not self.request.is_eager:
        time.sleep(wait)
    webhook_doorbell.answer()  # before the claim: events stored from now on ring again
    more = settings.WEBHOOK_BATCH_MAX - len(event_pks)
    outcomes = webhooks.webhook_events_process(event_pks=event_pks, more=more)
    counts: dict[str, int] = {}
    for event_pk, outcome in outcomes.items():
        if outcome.retry_in is not None:
            process_webhook_event.apply_async((event_pk,), countdown=outcome.retry_in)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    if more > 0 and len(outcomes) - counts.get("skipped", 0) >= more:
        # The claim may have left pending events behind (it takes `more` at most), whose deliveries rang no bell.
        process_webhook_events.delay([])
    return counts


@shared_task
def sweep_webhook_events() -> int:
    """Beat, every minute (PeriodicTask created by a migration, editable in the admin)."""
    return webhooks.webhook_events_sweep()
