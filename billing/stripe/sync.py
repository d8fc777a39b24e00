"""The sync of an account's Stripe into its mirror (SPEC §2): a run, one Celery task per resource, page by page.

State lives in the database, never in a worker: a `SyncRun` and one `SyncResource` per resource (status, cursor,
counts). Every transition is a conditional UPDATE, so that whatever number of workers run at once:
- a page and the cursor after it commit together (a retried or redelivered task goes on from there);
- a page written after its run stopped (failed, superseded, disconnected) rolls back;
- the run completes exactly once: when a resource is done it commits that, then, in a new transaction, moves the
  run from `running` to `completed` only if no resource is left undone. The last resource to commit its `done`
  sees every other `done` (each check starts after its own commit) and the UPDATE on the run row lets one
  transaction through: the others find it no longer `running`.
- a failure is announced once, the same way.

Stripe's 429 / 5xx propagate (StripeRateLimited, StripeUnavailable) for the task to retry with backoff
(billing/tasks.py, after the delay sync_resource_retry_in gives); refused credentials fail the run at once.

Messages can be lost (the broker down when a resource is queued, a worker gone before it started one): a
resource's message is sent after commit, a broker failure is logged rather than raised (the run stays, its
resource pending), and `sync_runs_sweep` (beat, every minute) sends another for a resource still pending
BILLING_SYNC_REQUEUE_SECONDS after it was queued, and fails a run with no progress for
BILLING_SYNC_STALE_MINUTES. A resource is started by one message at a time: a duplicate finds it running and
returns. A task hands its resource over to a new message after BILLING_SYNC_SLICE_SECONDS (or its soft time
limit), so one long resource never holds a worker process for long.
"""

import logging
import time
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Exists, F, Max, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from accounts.notifications import notify_account, notify_user
from billing.models import StripeConnection, SyncResource, SyncRun
from billing.stripe import mirror
from billing.stripe.client import StripeClient
from billing.stripe.sync_sources import RESOURCES, WALKS, walk_lists
from core import errors
from core.backoff import backoff_delay
from core.queue import enqueue
from core.secrets import SecretUnreadable

logger = logging.getLogger(__name__)

DATA_FETCHED_MESSAGE = "Successfully fetched data, Please refresh the page"
# A resource's worker task (billing/tasks.py), sent by name.
SYNC_RESOURCE_TASK = "billing.sync_resource"
Res = SyncResource.Status
Run = SyncRun.Status


class _RunStopped(Exception):
    """The run was stopped (failed, superseded) while this task worked: its current page is rolled back."""


class _SliceOver(Exception):
    """This task has paged long enough (BILLING_SYNC_SLICE_SECONDS): its resource goes on in a new message."""


# --- starting ------------------------------------------------------------------------------------------
def sync_start(*, account, user=None, kind: str = SyncRun.Kind.RESYNC, resume: bool = True) -> SyncRun:
    """Starts a sync run of every resource; the tasks are queued after commit. With `resume`, the unfinished
    resources of the account's last run, if it failed within BILLING_SYNC_RESUME_HOURS, go on from their cursors.
    Raises NoStripeConnection (409), or Conflict `sync_already_running` (409) while another run is running."""
    connection = StripeConnection.objects.filter(account=account).first()
    if connection is None or not connection.is_usable:
        raise errors.NoStripeConnection()
    now = timezone.now()
    with transaction.atomic():
        _fail_stalled_runs(now, account=account)
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(account=account, started_by=user, kind=kind)
        except IntegrityError:
            raise errors.Conflict(
                "A sync is already running for this account. Wait for it to finish.", code="sync_already_running"
            ) from None
        inherited = _resumable(account, run, now) if resume else {}
        rows = [_resource_row(run, name, inherited.get(name), now) for name in RESOURCES]
        for row in rows:
            row.queued_at = now if _ready(row) else None
        resources = SyncResource.objects.bulk_create(rows)
        StripeConnection.objects.filter(pk=connection.pk).update(
            status=StripeConnection.Status.SYNCING, status_reason="", updated_at=now
        )
        _enqueue([resource.pk for resource in resources if _ready(resource)], account.pk)
    return run


def _ready(resource: SyncResource) -> bool:
    return RESOURCES[resource.resource].after is None


def _resource_row(run: SyncRun, name: str, previous: SyncResource | None, now) -> SyncResource:
    if previous is None:
        return SyncResource(run=run, resource=name, pass_id=run.pk, pass_started_at=now)
    return SyncResource(
        run=run,
        resource=name,
        cursor=previous.cursor,
        synced=previous.synced,
        pages=previous.pages,
        pass_id=previous.pass_id,
        pass_started_at=previous.pass_started_at,
    )


def _resumable(account, run: SyncRun, now) -> dict[str, SyncResource]:
    last = SyncRun.objects.filter(account=account).exclude(pk=run.pk).order_by("-started_at", "-id").first()
    window = timedelta(hours=settings.BILLING_SYNC_RESUME_HOURS)
    if last is None or last.status != Run.FAILED or last.finished_at is None or last.finished_at < now - window:
        return {}
    unfinished = last.resources.exclude(status=Res.DONE).exclude(cursor={})
    return {resource.resource: resource for resource in unfinished}


def _fail_stalled_runs(now, *, account=None) -> int:
    """A run whose workers all died without a trace (no redelivery), or whose messages never reached one, must
    not block the account for ever, nor show `running` for ever. Answers how many it failed."""
    cutoff = now - timedelta(minutes=settings.BILLING_SYNC_STALE_MINUTES)
    runs = SyncRun.objects.filter(status=Run.RUNNING, started_at__lt=cutoff)
    if account is not None:
        runs = runs.filter(account=account)
    stalled = runs.annotate(last_progress=Max("resources__updated_at")).filter(last_progress__lt=cutoff)
    reason = f"The sync made no progress for {settings.BILLING_SYNC_STALE_MINUTES} minutes and was stopped."
    return sum(sync_run_fail(run_id=run_id, reason=reason) for run_id in stalled.values_list("pk", flat=True))


def _enqueue(resource_ids: list[int], account_id) -> None:
    """Sends the resources' messages after commit. A broker that cannot take them is logged, not raised: the run
    and the resources' `queued_at` are committed, and sync_runs_sweep sends them again."""
    if resource_ids:
        transaction.on_commit(lambda: _send(resource_ids, account_id))


def _send(resource_ids: list[int], account_id) -> None:
    for index, resource_id in enumerate(resource_ids):
        try:
            enqueue(SYNC_RESOURCE_TASK, resource_id, account_id=str(account_id))
        except BrokerUnavailable as exc:
            # Not the rest: each would wait on the same broker (Celery retries a publish for seconds) for nothing.
            logger.warning(
                "Sync resources %s could not be queued (%s); the sync sweeper queues them again",
                resource_ids[index:],
                exc,
            )
            return


# --- lost messages and stalled runs (beat) --------------------------------------------------------------
def sync_runs_sweep(*, limit: int = 500) -> dict[str, int]:
    """What beat runs every minute: fails the runs with no progress for BILLING_SYNC_STALE_MINUTES, then queues
    again the resources of running runs still pending BILLING_SYNC_REQUEUE_SECONDS after they were queued (their
    message was lost). Answers {"failed": runs failed, "requeued": resources queued again}.

    The rows are taken FOR UPDATE SKIP LOCKED (another sweep's are its own) and their `queued_at` moved in the
    same transaction, so the next sweep waits another delay; the messages go out after the commit. A message
    that was only slow, not lost, makes a duplicate, which finds the resource started and returns."""
    now = timezone.now()
    failed = _fail_stalled_runs(now)
    due = SyncResource.objects.filter(
        status=Res.PENDING,
        run__status=Run.RUNNING,
        queued_at__lt=now - timedelta(seconds=settings.BILLING_SYNC_REQUEUE_SECONDS),
    )
    with transaction.atomic():
        rows = list(
            due.order_by("queued_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", "run__account_id")[:limit]
        )
        if rows:
            SyncResource.objects.filter(pk__in=[pk for pk, _ in rows]).update(queued_at=now)
        by_account: dict = {}
        for pk, account_id in rows:
            by_account.setdefault(account_id, []).append(pk)
        for account_id, pks in by_account.items():
            _enqueue(pks, account_id)
    if rows:
        logger.warning("Sync sweeper queued %s resources again (their messages were lost)", len(rows))
    return {"failed": failed, "requeued": len(rows)}


# --- running one resource ------------------------------------------------------------------------------
def sync_resource_run(*, resource_id: int) -> None:
    """The body of a resource's task: every page from its cursor on, then its completion. Idempotent: a finished
    resource or a stopped run returns at once. Raises StripeRateLimited / StripeUnavailable for the task to retry;
    any other failure fails the run (and an unexpected one is re-raised once recorded)."""
    resource = SyncResource.objects.select_related("run").get(pk=resource_id)
    run = resource.run
    moment = timezone.now()
    now = Value(moment, output_field=DateTimeField())
    # Pending, or running with no progress for the stale delay (its worker died: a redelivery). A duplicate
    # message (the sweeper's, for a message that was only slow) finds it running and leaves it to its task.
    presumed_lost = Q(
        status=Res.RUNNING, updated_at__lt=moment - timedelta(minutes=settings.BILLING_SYNC_STALE_MINUTES)
    )
    started = (
        SyncResource.objects.filter(pk=resource.pk, run__status=Run.RUNNING)
        .filter(Q(status=Res.PENDING) | presumed_lost)
        .update(status=Res.RUNNING, attempts=F("attempts") + 1, started_at=Coalesce("started_at", now), updated_at=now)
    )
    if not started:
        return
    spec = RESOURCES[resource.resource]
    try:
        connection = StripeConnection.objects.filter(account_id=run.account_id).first()
        client = StripeClient.for_connection(connection)
        commit = _page_committer(resource)
        if spec.name in WALKS:
            WALKS[spec.name](client, run.account, resource.cursor, commit)
        else:
            walk_lists(client, spec, resource.cursor, commit)
    except _RunStopped:
        return
    except (_SliceOver, SoftTimeLimitExceeded):
        # Not a failure: the pages so far are committed with their cursor (a page cut short by the soft limit
        # rolled back), and the resource goes on in a message of its own, behind the others in the queue.
        _hand_over(resource)
        return
    except (errors.StripeRateLimited, errors.StripeUnavailable):
        raise
    except errors.StripeAuthFailed as exc:
        _fail(resource, f"Stripe refused the stored credentials while syncing {spec.name}: {exc.message} "
                        "Reconnect Stripe with a valid key.")  # fmt: skip
        return
    except errors.NoStripeConnection:
        _fail(resource, "Stripe was disconnected during the sync.")
        return
    except SecretUnreadable as exc:
        logger.warning("Sync of %s failed: the stored Stripe key cannot be decrypted", spec.name)
        _fail(resource, f"{exc.message} Reconnect Stripe.")
        return
    except errors.StripeRejected as exc:
        _fail(resource, f"Stripe refused to list {spec.name}: {exc.message}")
        return
    except Exception as exc:
        logger.exception("Sync of %s failed (resource %s)", spec.name, resource.pk)
        _fail(resource, f"Syncing {spec.name} failed on an internal error ({exc.__class__.__name__}).")
        raise
    sync_resource_finish(resource_id=resource.pk)


def _hand_over(resource: SyncResource) -> None:
    with transaction.atomic():
        moved = SyncResource.objects.filter(pk=resource.pk, status=Res.RUNNING, run__status=Run.RUNNING).update(
            status=Res.PENDING, queued_at=timezone.now()
        )
        if moved:
            _enqueue([resource.pk], resource.run.account_id)


def _page_committer(resource: SyncResource):
    run = resource.run
    total = {"synced": resource.synced}
    slice_ends = time.monotonic() + settings.BILLING_SYNC_SLICE_SECONDS
    announced = {"at": None}  # when this task last announced its progress (monotonic)

    def commit(object_name: str, objects: list[dict], cursor: dict, fetched_at: int, payout: str | None = None) -> int:
        with transaction.atomic():
            written = (
                mirror.upsert_objects(
                    run.account,
                    object_name,
                    objects,
                    seen_in_run=resource.pass_id,
                    fetched_at=fetched_at,
                    payout=payout,
                )
                if objects
                else 0
            )
            moved = SyncResource.objects.filter(pk=resource.pk, status=Res.RUNNING, run__status=Run.RUNNING).update(
                cursor=cursor, synced=F("synced") + written, pages=F("pages") + 1, updated_at=timezone.now()
            )
            if not moved:
                raise _RunStopped
            total["synced"] += written
            now = time.monotonic()
            if announced["at"] is None or now - announced["at"] >= settings.BILLING_SYNC_PROGRESS_SECONDS:
                announced["at"] = now
                done = SyncResource.objects.filter(run_id=run.pk, status=Res.DONE).count()
                _notify(
                    run,
                    "billing_sync_progress",
                    {
                        "resource": resource.resource,
                        "synced": total["synced"],
                        "done_resources": done,
                        "total_resources": len(RESOURCES),
                    },
                )
        if time.monotonic() > slice_ends:
            raise _SliceOver  # after the commit: this page and its cursor are kept
        return written

    return commit


def sync_resource_finish(*, resource_id: int) -> None:
    """Marks the resource done and, the pass being complete, the rows it did not see as deleted; queues the
    resources waiting for it; then completes the run if it was the last one."""
    resource = SyncResource.objects.select_related("run").get(pk=resource_id)
    spec = RESOURCES[resource.resource]
    with transaction.atomic():
        done = SyncResource.objects.filter(pk=resource.pk, status=Res.RUNNING, run__status=Run.RUNNING).update(
            status=Res.DONE, finished_at=timezone.now(), error=""
        )
        if not done:
            return
        if not resource.cursor.get("missing"):  # a list this Stripe lacks proves nothing about deletions
            mirror.mark_unseen_deleted(
                resource.run.account, spec.object_name, pass_id=resource.pass_id, since=resource.pass_started_at
            )
        waiting = [name for name, other in RESOURCES.items() if other.after == spec.name]
        dependents = SyncResource.objects.filter(run_id=resource.run_id, resource__in=waiting, status=Res.PENDING)
        dependent_ids = list(dependents.values_list("pk", flat=True))
        SyncResource.objects.filter(pk__in=dependent_ids).update(queued_at=timezone.now())
        _enqueue(dependent_ids, resource.run.account_id)
    sync_run_complete_if_finished(run_id=resource.run_id)


def sync_run_complete_if_finished(*, run_id: int) -> bool:
    """Completes the run if every resource is done: exactly once, however many callers race (see the module
    docstring). Returns whether this call completed it."""
    unfinished = SyncResource.objects.filter(run=OuterRef("pk")).exclude(status=Res.DONE)
    now = timezone.now()
    with transaction.atomic():
        completed = (
            SyncRun.objects.filter(pk=run_id, status=Run.RUNNING)
            .filter(~Exists(unfinished))
            .update(status=Run.COMPLETED, finished_at=now)
        )
        if completed != 1:
            return False
        run = SyncRun.objects.select_related("account").get(pk=run_id)
        mirror.link_customers(run.account)
        StripeConnection.objects.filter(account_id=run.account_id).exclude(
            status=StripeConnection.Status.DISCONNECTED
        ).update(
            status=StripeConnection.Status.READY,
            status_reason="",
            initialized=True,
            last_synced_at=now,
            updated_at=now,
        )
        _notify(run, "billing_data_fetched", {"message": DATA_FETCHED_MESSAGE, "type": "success"})
    return True


# --- failing --------------------------------------------------------------------------------------------
def _fail(resource: SyncResource, reason: str) -> None:
    sync_run_fail(run_id=resource.run_id, reason=reason, resource_id=resource.pk)


def sync_resource_retry_in(*, resource_id: int, error: errors.StripeUnavailable, retries: int) -> float | None:
    """A resource's task met a Stripe that is unavailable or rate limiting after `retries` retries: answers the
    seconds to wait before the next try (the product's backoff, never sooner than Stripe's Retry-After), or
    None once BILLING_SYNC_MAX_RETRIES are spent, after failing the run with the reason."""
    if retries >= settings.BILLING_SYNC_MAX_RETRIES:
        resource = SyncResource.objects.get(pk=resource_id)
        _fail(resource, f"Syncing {resource.resource} failed after {retries + 1} attempts: {error.message}")
        return None
    delay = backoff_delay(
        retries,
        base=settings.BILLING_SYNC_RETRY_BASE_SECONDS,
        cap=settings.BILLING_SYNC_RETRY_MAX_SECONDS,
        retry_after=getattr(error, "retry_after", None),
    )
    # Pending again until the retry's message starts it; due then, so the sweeper leaves it alone meanwhile.
    SyncResource.objects.filter(pk=resource_id, status=Res.RUNNING).update(
        status=Res.PENDING, queued_at=timezone.now() + timedelta(seconds=delay)
    )
    return delay


def sync_run_fail(*, run_id: int, reason: str, resource_id: int | None = None) -> bool:
    """Fails the run once: its connection shows the reason and the user who started it hears it."""
    with transaction.atomic():
        if not _stop_run(run_id, reason, resource_id):
            return False
        run = SyncRun.objects.get(pk=run_id)
        StripeConnection.objects.filter(account_id=run.account_id).exclude(
            status=StripeConnection.Status.DISCONNECTED
        ).update(status=StripeConnection.Status.FAILED, status_reason=reason, updated_at=timezone.now())
        _notify(run, "billing_data_fetch_failed", {"message": reason, "type": "error"})
    return True


def sync_runs_cancel(*, account, reason: str) -> None:
    """Stops the account's running run without announcing a failure: the caller (reconnect, disconnect) is
    replacing the state the run would have reported on. Its unfinished resources keep their cursors."""
    for run_id in SyncRun.objects.filter(account=account, status=Run.RUNNING).values_list("pk", flat=True):
        _stop_run(run_id, reason, None)


def _stop_run(run_id: int, reason: str, resource_id: int | None) -> bool:
    now = timezone.now()
    with transaction.atomic():
        stopped = SyncRun.objects.filter(pk=run_id, status=Run.RUNNING).update(
            status=Run.FAILED, reason=reason, finished_at=now
        )
        if not stopped:
            return False
        if resource_id is not None:
            SyncResource.objects.filter(pk=resource_id).exclude(status=Res.DONE).update(
                status=Res.FAILED, error=reason, finished_at=now
            )
        SyncResource.objects.filter(run_id=run_id, status__in=[Res.PENDING, Res.RUNNING]).update(
            status=Res.FAILED, error="Stopped: the sync run ended before this resource finished.", finished_at=now
        )
    return True


def _notify(run: SyncRun, event: str, data: dict) -> None:
    if run.started_by_id:
        notify_user(run.started_by_id, event, data, account_id=run.account_id)
    else:
        notify_account(run.account_id, event, data)
