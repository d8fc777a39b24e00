"""The import's websocket events (SPEC §10), to the user who started it, sent after commit."""

from accounts.notifications import notify_user
from contacts_import.models import ImportJob

PROGRESS = "contact_import_progress"
COMPLETED = "contact_import_completed"


def job_counts(job: ImportJob) -> dict:
    return {
        "processed": job.processed,
        "added": job.added,
        "updated": job.updated,
        "skipped": job.skipped,
        "errors": job.errors,
    }


def notify_progress(job: ImportJob) -> None:
    if job.created_by_id is None:
        return
    data = {"id": job.pk, "status": job.status, "type": job.type, "pages": job.pages, **job_counts(job)}
    notify_user(job.created_by_id, PROGRESS, data, account_id=job.account_id)


def notify_completed(job: ImportJob) -> None:
    """Every end: completed, failed (with its reason) or cancelled."""
    if job.created_by_id is None:
        return
    data = {"id": job.pk, "status": job.status, "type": job.type, "failure_reason": job.failure_reason}
    notify_user(job.created_by_id, COMPLETED, {**data, **job_counts(job)}, account_id=job.account_id)
