"""The run of an import job: claim it, then stream the account's Stripe customers page by page into its contacts
(services/pages.py), saving the cursor with every page, until the list ends, the limit is reached or the job is
cancelled. The seed's bugs, fixed: a missing connection fails this job only, with its reason; a Stripe outage or
rate limit is retried with the one backoff (core/backoff.py) from the saved cursor; a killed run is taken over
from its cursor once its heartbeat is stale; counts live on the job's row, never in the process."""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from billing.models import StripeConnection
from billing.stripe.client import StripeClient
from contacts_import.models import ImportJob
from contacts_import.services.events import notify_completed
from contacts_import.services.jobs import RUN_TASK, import_job_claim
from contacts_import.services.pages import LostClaim, page_write
from core import errors
from core.backoff import backoff_delay
from core.queue import enqueue

logger = logging.getLogger(__name__)

PAGE_SIZE = 100  # Stripe's largest page


@dataclass
class RunOutcome:
    status: str  # the job's status after this run, or "not_claimed" / "lost_claim"
    retry_in: float | None = None  # seconds: the task queues the job again then (a Stripe failure)


def import_job_run(*, job_id: int) -> RunOutcome:
    """Runs the job if this worker can claim it (else does nothing: another worker has it, or it is finished).
    Hands the job over to a new message after CONTACTS_IMPORT_SLICE_SECONDS, so one large import never holds a
    worker process past its time limit."""
    claimed = import_job_claim(job_id=job_id)
    if claimed is None:
        return RunOutcome("not_claimed")
    job, token = claimed
    logger.info("Contact import %s claimed (cursor %r, %s processed)", job.pk, job.cursor, job.processed)
    try:
        return _run(job, token)
    except LostClaim as exc:
        logger.warning("Contact import %s: %s", job_id, exc)
        return RunOutcome("lost_claim")
    except SoftTimeLimitExceeded:
        _hand_over(job_id, token)
        return RunOutcome(ImportJob.Status.PENDING)
    except Exception as exc:
        logger.exception("Contact import %s failed unexpectedly", job_id)
        _fail(job_id, token, f"Unexpected error ({type(exc).__name__}); the import stopped. Start a new one.")
        return RunOutcome(ImportJob.Status.FAILED)


def _run(job: ImportJob, token: str) -> RunOutcome:
    connection = StripeConnection.objects.filter(account_id=job.account_id).first()
    try:
        client = StripeClient.for_connection(connection)
    except errors.AppError as exc:
        reason = "The account has no usable Stripe connection: connect Stripe, then start the import again."
        if not isinstance(exc, errors.NoStripeConnection):
            reason = f"The account's Stripe connection cannot be used: {exc.message}"
        _fail(job.pk, token, reason)
        return RunOutcome(ImportJob.Status.FAILED)

    deadline = time.monotonic() + settings.CONTACTS_IMPORT_SLICE_SECONDS
    while True:
        size = PAGE_SIZE if job.limit is None else max(1, min(PAGE_SIZE, job.limit - job.processed))
        try:
            customers, has_more = client.list_page("/v1/customers", limit=size, starting_after=job.cursor or None)
        except errors.StripeUnavailable as exc:  # 5xx, unreachable, and 429 (StripeRateLimited)
            return _retry_later(job, token, exc)
        except errors.StripeError as exc:
            _fail(job.pk, token, f"Stripe refused to list the customers: {exc.message}")
            return RunOutcome(ImportJob.Status.FAILED)
        job = _write(job.pk, token, customers, has_more)
        if job.is_finished:
            logger.info(
                "Contact import %s %s: %s added, %s updated, %s skipped, %s errors",
                job.pk,
                job.status,
                job.added,
                job.updated,
                job.skipped,
                job.errors,
            )
            return RunOutcome(job.status)
        if time.monotonic() > deadline:
            _hand_over(job.pk, token)
            return RunOutcome(ImportJob.Status.PENDING)


def _write(job_id: int, token: str, customers: list[dict], has_more: bool) -> ImportJob:
    try:
        return page_write(job_id=job_id, token=token, customers=customers, has_more=has_more)
    except IntegrityError:
        # Someone else (a person in the admin, another process without the import lock) wrote one of these
        # contacts between our read and our write: the page was rolled back whole; read it again once.
        logger.warning("Contact import %s: a contact changed under the page; writing it again", job_id)
        return page_write(job_id=job_id, token=token, customers=customers, has_more=has_more)


def _retry_later(job: ImportJob, token: str, exc: errors.StripeUnavailable) -> RunOutcome:
    attempts = job.attempts + 1
    if attempts > settings.CONTACTS_IMPORT_MAX_RETRIES:
        _fail(job.pk, token, f"Stripe could not be reached after {job.attempts} retries: {exc.message}")
        return RunOutcome(ImportJob.Status.FAILED)
    delay = backoff_delay(
        attempts - 1,
        base=settings.CONTACTS_IMPORT_RETRY_BASE_SECONDS,
        cap=settings.CONTACTS_IMPORT_RETRY_MAX_SECONDS,
        retry_after=getattr(exc, "retry_after", None),
    )
    # Pending again, not running: no worker holds the job while it waits, and the beat queues it again at
    # `retry_at` if the retry's message is lost.
    released = ImportJob.objects.filter(pk=job.pk, claim_token=token, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.PENDING,
        claim_token="",
        attempts=F("attempts") + 1,
        retry_at=timezone.now() + timedelta(seconds=delay),
        updated_at=timezone.now(),
    )
    if not released:
        return RunOutcome("lost_claim")
    logger.warning("Contact import %s: Stripe failed (%s); retry %s in %.1fs", job.pk, exc.message, attempts, delay)
    return RunOutcome(ImportJob.Status.PENDING, retry_in=delay)


def _hand_over(job_id: int, token: str) -> None:
    released = ImportJob.objects.filter(pk=job_id, claim_token=token, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.PENDING, claim_token="", retry_at=None, updated_at=timezone.now()
    )
    if released:
        enqueue(RUN_TASK, job_id)


def _fail(job_id: int, token: str, reason: str) -> None:
    now = timezone.now()
    failed = ImportJob.objects.filter(pk=job_id, claim_token=token, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.FAILED, failure_reason=reason, claim_token="", finished_at=now, updated_at=now
    )
    if failed:
        logger.warning("Contact import %s failed: %s", job_id, reason)
        notify_completed(ImportJob.objects.get(pk=job_id))
