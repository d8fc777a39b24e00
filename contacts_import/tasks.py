"""Thin Celery tasks, sent by name (core/queue.py), routed to the `imports` queue (CELERY_TASK_ROUTES) so a large
import never delays webhook processing."""

from celery import shared_task

from contacts_import.services import jobs, run


@shared_task(name="contacts_import.run_import_job", bind=True, max_retries=None, acks_late=True)
def run_import_job(self, job_id: int) -> str:
    """Runs one import job if this worker can claim it. A Stripe failure is retried after the delay the run
    decided (core/backoff.py); the retry count lives on the job's row, and its cursor makes the retry go on from
    the last page written."""
    outcome = run.import_job_run(job_id=job_id)
    if outcome.retry_in is not None:
        # As billing's tasks: an eager run re-runs a returned Retry in place; a worker gets the usual raise.
        return self.retry(countdown=outcome.retry_in, throw=not self.request.is_eager)
    return outcome.status


@shared_task(name="contacts_import.sweep_import_jobs")
def sweep_import_jobs() -> int:
    """Beat, every 30 s (PeriodicTask created by a migration): queues the jobs a worker may take."""
    return jobs.import_jobs_sweep()
