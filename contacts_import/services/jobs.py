"""Import jobs: creating one (validated, then queued at once after commit), cancelling one, and the claim that
lets exactly one worker run a job whatever the number of workers and beats (a conditional UPDATE)."""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts_import import mapping
from contacts_import.models import ImportJob
from contacts_import.services.events import notify_completed
from core import errors
from core.queue import enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

RUN_TASK = "contacts_import.run_import_job"


def import_job_create(*, account, user, type: str, mappings, new_contact: bool, limit: int | None = None) -> ImportJob:
    """Validates the mapping before anything is stored or queued (InvalidInput naming each bad key), stores the
    job `pending` and queues its run after commit (the beat picks it up too if that message is lost)."""
    try:
        normalised = mapping.mapping_validate(mappings)
    except mapping.MappingInvalid as exc:
        raise errors.InvalidInput(
            f"The mapping cannot be used: {exc}",
            code="invalid_mapping",
            details={"fields": {"mappings": [f"{key}: {reason}" for key, reason in exc.problems.items()]}},
        ) from None
    with transaction.atomic():
        job = ImportJob.objects.create(
            account=account, created_by=user, type=type, mappings=normalised, new_contact=new_contact, limit=limit
        )
        enqueue_on_commit(RUN_TASK, job.pk)
    logger.info("Contact import %s queued (%s, new_contact=%s, limit=%s)", job.pk, type, new_contact, limit)
    return job


def import_job_cancel(*, job: ImportJob) -> ImportJob:
    """A pending job is cancelled at once; a running one stops after the page it is writing (the run reads the
    request under the job's lock). A finished job cannot be cancelled (Conflict, 409)."""
    now = timezone.now()
    cancelled_now = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.CANCELLED, cancel_requested=True, finished_at=now, claim_token="", updated_at=now
    )
    if not cancelled_now:
        asked = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
            cancel_requested=True, updated_at=now
        )
        if not asked:
            job.refresh_from_db()
            raise errors.Conflict(f"Import {job.pk} is already {job.status}.", code="import_finished")
    job.refresh_from_db()
    if cancelled_now:
        notify_completed(job)
    return job


def _claimable(now) -> Q:
    stale = now - timedelta(seconds=settings.CONTACTS_IMPORT_STALE_SECONDS)
    # A retry's message may arrive a moment before its `retry_at` (two clocks): a second of slack.
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=now + timedelta(seconds=1))
    return (Q(status=ImportJob.Status.PENDING) & due) | Q(status=ImportJob.Status.RUNNING, heartbeat_at__lt=stale)


def import_job_claim(*, job_id: int) -> tuple[ImportJob, str] | None:
    """Takes the job for this worker: one UPDATE that succeeds for one caller only (pending and due, or running
    with a heartbeat older than CONTACTS_IMPORT_STALE_SECONDS: its worker died). Answers (job, token) or None.
    Every page the holder writes checks the token under the job's row lock, so a worker whose job was taken over
    stops instead of writing beside the new holder."""
    now = timezone.now()
    token = uuid.uuid4().hex
    taken = (
        ImportJob.objects.filter(pk=job_id)
        .filter(_claimable(now))
        .update(status=ImportJob.Status.RUNNING, claim_token=token, heartbeat_at=now, retry_at=None, updated_at=now)
    )
    if not taken:
        return None
    job = ImportJob.objects.get(pk=job_id)
    if job.started_at is None:
        ImportJob.objects.filter(pk=job_id).update(started_at=now)
        job.started_at = now
    return job, token


def import_jobs_sweep() -> int:
    """Beat (every 30 s): queues a run for every job a worker may take now (pending and due, or abandoned by a
    dead worker). Queuing one twice is harmless: only one claim succeeds."""
    ids = list(
        ImportJob.objects.filter(_claimable(timezone.now())).order_by("created_at", "id").values_list("pk", flat=True)
    )
    for job_id in ids:
        enqueue(RUN_TASK, job_id)
    return len(ids)
