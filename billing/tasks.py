"""Thin Celery tasks: load by id, call a service. Queued after commit (`delay_on_commit`)."""

from celery import shared_task

from billing.services import webhooks


@shared_task(bind=True, max_retries=None, acks_late=True)
def process_webhook_event(self, event_pk: int) -> str:
    """Processes one stored webhook event. The attempt count and dead letters live on the event row (not in
    Celery's retry count), so a retry from the sweeper or a replay continues the same budget."""
    outcome = webhooks.webhook_event_process(event_pk=event_pk)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task
def sweep_webhook_events() -> int:
    """Beat, every minute (PeriodicTask created by a migration, editable in the admin)."""
    return webhooks.webhook_events_sweep()
