"""Webhook processing (SPEC §3): what a worker does when woken: gather, claim, run the handlers, mark processed;
retries, dead letters, the sweeper. The staff's operations on events (replay, purge) are in operations.py.

Exactly-once, from the database:
- A worker first *claims* its events (its message's, and other pending ones up to WEBHOOK_BATCH_MAX) in one
  short transaction: the claimable rows (pending/failed, or a processing claim older than the lease, which is
  presumed lost) are selected FOR UPDATE SKIP LOCKED and set to processing. Two workers racing on one event:
  one takes it, the other skips it. The claim counts the attempt, so a message that kills its worker still
  uses up attempts instead of looping forever.
- The handlers run in one transaction with the rows locked and the statuses set to processed, each handler in
  a savepoint of its own: an event's effect and its "processed" commit together or not at all, and a failing
  handler undoes only its own effect. A worker whose claim was taken over (its lease ran out) finds the row no
  longer carries its claim and leaves it.
- A failure keeps the row with its error and traceback and schedules a retry with exponential backoff; after
  WEBHOOK_MAX_ATTEMPTS the event is a dead letter and waits for staff.
"""

import logging
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from billing.models import WebhookEvent
from billing.webhooks import doorbell
from billing.webhooks.registry import handler_for
from core.backoff import backoff_delay
from core.queue import enqueue, enqueue_on_commit

logger = logging.getLogger(__name__)

# The worker tasks (billing/tasks.py), sent by name.
PROCESS_EVENT_TASK = "billing.process_webhook_event"
PROCESS_EVENTS_TASK = "billing.process_webhook_events"

Status = WebhookEvent.Status
SKIPPED = "skipped"  # an outcome, not a status: not claimed (done already, or held by another worker)
MAX_ERROR_CHARS = 2000
MAX_TRACEBACK_CHARS = 20000
# The order a batch's events are handled in: by the object they touch, then oldest first.
HANDLING_ORDER = ("object_type", "object_id", "created", "stripe_event_id")
# SQLite: the pause between two of a batch's transactions (_write_chunks), a few of intake's polls.
SQLITE_CHUNK_PAUSE_SECONDS = 0.002


@dataclass(frozen=True)
class Outcome:
    """What one processing attempt did. `retry_in` (seconds) is set when the caller should retry."""

    status: str  # processed | ignored | failed | dead | skipped (not claimed: done, or held by another worker)
    retry_in: int | None = None


def retry_delay(attempts: int) -> int:
    """Seconds before the attempt after the n-th failed one: the product's one backoff (core/backoff.py, the
    same as Stripe calls'), from WEBHOOK_RETRY_BASE_SECONDS doubling up to WEBHOOK_RETRY_MAX_SECONDS, with full
    jitter so that the events one outage failed together do not all come back at the same second."""
    delay = backoff_delay(
        attempts - 1, base=settings.WEBHOOK_RETRY_BASE_SECONDS, cap=settings.WEBHOOK_RETRY_MAX_SECONDS
    )
    return max(1, round(delay))


def batch_wait(stored_at: float | None, *, now: float) -> float:
    """Seconds a worker waits before claiming a batch whose events were stored at `stored_at` (epoch seconds):
    until WEBHOOK_BATCH_LINGER_MS after that, so that the events stored meanwhile join the batch. None (a
    message without the time) or a message that already waited in the queue that long: no wait."""
    linger = settings.WEBHOOK_BATCH_LINGER_MS / 1000
    if stored_at is None or linger <= 0:
        return 0.0
    return min(max(stored_at + linger - now, 0.0), linger)


def webhook_batch_run(*, event_pks: list[int], stored_at: float | None, linger: bool = True) -> dict[str, int]:
    """What a worker does when intake's doorbell (doorbell.py) wakes it: processes the events the message
    names with the other pending ones, up to WEBHOOK_BATCH_MAX, together (one claim, one commit:
    webhook_events_process), and answers how many ended in each status.

    - It first lets the batch gather until WEBHOOK_BATCH_LINGER_MS after `stored_at` (when intake stored the
      events; `linger=False` skips the wait, for eager runs): a batch costs a fixed dozen statements whatever its
      size, so under load a short wait makes fewer, larger batches and more events per second
      (docs/webhooks.md).
    - It answers the doorbell right before claiming: events stored from then on ring again.
    - An event that failed gets its retry as a message of its own.
    - A claim that took all it could wakes another worker: it may have left pending events behind whose
      deliveries rang no bell."""
    wait = batch_wait(stored_at, now=time.time())
    if wait and linger:
        time.sleep(wait)
    doorbell.doorbell_answer()
    more = settings.WEBHOOK_BATCH_MAX - len(event_pks)
    outcomes = webhook_events_process(event_pks=event_pks, more=more)
    counts: dict[str, int] = {}
    for event_pk, outcome in outcomes.items():
        if outcome.retry_in is not None:
            enqueue(PROCESS_EVENT_TASK, event_pk, countdown=outcome.retry_in)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    if more > 0 and len(outcomes) - counts.get(SKIPPED, 0) >= more:
        enqueue(PROCESS_EVENTS_TASK, [])
    return counts


def claim_lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_CLAIM_LEASE_SECONDS)


def _claim(event_pks, *, more: int = 0) -> tuple[object, list[int]] | None:
    """Takes the events for this worker, and up to `more` other pending events, oldest first (intake wakes a
    worker for the events stored since the last one answered: billing/webhooks/doorbell.py): under
    load, batches grow and each event costs less. Answers the claim's timestamp (its token) and the pks it
    took, or None if it got none. An event with a message of its own still on its way is then "skipped"."""
    now = timezone.now()
    claimable = Q(status__in=[Status.PENDING, Status.FAILED]) | Q(
        status=Status.PROCESSING, claimed_at__lt=now - claim_lease()
    )
    with transaction.atomic():
        # SKIP LOCKED (PostgreSQL; SQLite's IMMEDIATE transactions have one writer at a time): rows another
        # worker is claiming right now are left to it, so two claims never wait on each other's rows (they
        # deadlocked when each took some of the other's events). Locked here, updated below without waiting.
        mine = WebhookEvent.objects.filter(claimable, pk__in=list(event_pks))
        pks = list(
            mine.exclude(attempts__gte=settings.WEBHOOK_MAX_ATTEMPTS)
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        if more > 0:
            pending = WebhookEvent.objects.filter(status=Status.PENDING).exclude(pk__in=list(event_pks))
            pks += (
                pending.order_by("received_at").select_for_update(skip_locked=True).values_list("pk", flat=True)[:more]
            )
        if not pks:
            return None
        WebhookEvent.objects.filter(pk__in=pks).update(
            status=Status.PROCESSING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            # The sweeper's deadline: past it, this claim is presumed lost.
            next_attempt_at=now + claim_lease(),
        )
    return now, pks


def webhook_event_process(*, event_pk: int) -> Outcome:
    """Processes one stored event at most once to completion (a batch of one)."""
    return webhook_events_process(event_pks=[event_pk])[event_pk]


def webhook_events_process(*, event_pks, more: int = 0) -> dict[int, Outcome]:
    """Processes stored events, and up to `more` other pending ones (see _claim), each at most once to
    completion; answers each one's Outcome. Never raises for a handler's failure: it is recorded on its event
    and answered with the delay before the next attempt.

    One claim, one lock and one "processed" update serve the whole batch, and one transaction commits it; each
    handler runs in a savepoint of its own, so a failing handler undoes its own effect and nothing else, and
    an event's effect and its "processed" still commit together. Batch forms lock their rows in one order
    (mirror.apply_event_objects); the events handled one by one go in the order of the object they touch."""
    outcomes = {pk: Outcome(SKIPPED) for pk in event_pks}
    claim = _claim(event_pks, more=more)
    if claim is None:
        return outcomes
    claimed_at, event_pks = claim
    failures: list = []
    for number, chunk in enumerate(_write_chunks(event_pks)):
        if number:
            # SQLite: let a delivery waiting for the write lock in (intake polls for it, core/db/sqlite_write_lock.py)
            # before this worker takes it again; without the pause the next BEGIN won nearly every time.
            time.sleep(SQLITE_CHUNK_PAUSE_SECONDS)
        _handle(chunk, claimed_at, outcomes, failures)
    for pk, attempts, exc in failures:
        outcomes[pk] = _record_failure(pk, claimed_at, attempts, exc)
    return outcomes


def _write_chunks(event_pks: list[int]) -> list[list[int]]:
    """The claimed events in the transactions that handle them: one on PostgreSQL (row locks: a batch holds only
    its own rows). SQLite has one write lock for the whole database, which intake needs for every delivery, so
    there a batch is handled WEBHOOK_SQLITE_WRITE_CHUNK events per transaction (docs/webhooks.md, "Processing"),
    in the objects' order (read without the lock: a WAL read waits for no writer). Each transaction commits its
    events' effects with their "processed", as one batch would."""
    size = settings.WEBHOOK_SQLITE_WRITE_CHUNK
    if connection.vendor != "sqlite" or size <= 0 or len(event_pks) <= size:
        return [list(event_pks)]
    ordered = list(
        WebhookEvent.objects.filter(pk__in=list(event_pks)).order_by(*HANDLING_ORDER).values_list("pk", flat=True)
    )
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def _handle(event_pks: list[int], claimed_at, outcomes: dict, failures: list) -> None:
    """One transaction: the claimed rows locked, their handlers run (each in a savepoint), their statuses set.
    Fills `outcomes` with what was done and `failures` with (pk, attempts, exception) to record."""
    claimed: list[int] = []
    try:
        with transaction.atomic():
            events = list(
                WebhookEvent.objects.select_for_update(of=("self",))
                .select_related("account")
                # Rows whose claim is still ours (a lease that ran out may have been taken over).
                .filter(pk__in=list(event_pks), status=Status.PROCESSING, claimed_at=claimed_at)
                .order_by(*HANDLING_ORDER)
            )
            claimed = [event.pk for event in events]
            done: dict[str, list[int]] = {Status.PROCESSED: [], Status.IGNORED: []}
            mine: list = []
            batches, singles = _by_batch_form(events, done)
            for apply_many, group in batches.items():
                # A group of one is its handler's own call: no need to try it twice if it fails.
                if len(group) == 1 or not _apply_many(apply_many, group, done):
                    singles += group
            for handler, event in singles:
                try:
                    with transaction.atomic():
                        handler(event)
                except Exception as exc:  # noqa: BLE001 - recorded on the event, then retried
                    mine.append((event.pk, event.attempts, exc))
                    continue
                done[Status.PROCESSED].append(event.pk)
            now = timezone.now()
            finished = {}
            for status, pks in done.items():
                if pks:
                    WebhookEvent.objects.filter(pk__in=pks).update(
                        status=status, processed_at=now, next_attempt_at=None, last_error="", last_traceback=""
                    )
                    finished.update((pk, Outcome(status)) for pk in pks)
    except Exception as exc:  # noqa: BLE001 - the batch itself failed (the database): each claimed event failed
        failures.extend((pk, None, exc) for pk in (claimed or event_pks))
        return
    outcomes.update(finished)
    failures.extend(mine)


def _by_batch_form(events, done: dict) -> tuple[dict, list]:
    """Each event's handler, looked up once: the (handler, event) pairs grouped by their handler's batch form
    (`apply_many`, which several handlers may share), and the pairs of handlers without one, in the events'
    order. Events without a handler are recorded as ignored."""
    batches: dict = {}
    singles = []
    for event in events:
        handler = handler_for(event.relationship, event.type)
        if handler is None:
            done[Status.IGNORED].append(event.pk)
        elif hasattr(handler, "apply_many"):
            batches.setdefault(handler.apply_many, []).append((handler, event))
        else:
            singles.append((handler, event))
    return batches, singles


def _apply_many(apply_many, group: list, done: dict) -> bool:
    """A batch form (`apply_many(pairs)` of (handler, event), see billing/webhooks/registry.py) on its events at
    once, in a savepoint. If it fails, answers False and its events are left to be handled one by one, so that
    the one at fault fails alone."""
    try:
        with transaction.atomic():
            apply_many(group)
    except Exception:  # noqa: BLE001 - one by one instead, where each failure is recorded on its own event
        logger.info(
            "Batch form %s failed; handling its %s events one by one", getattr(apply_many, "__name__", ""), len(group)
        )
        return False
    done[Status.PROCESSED] += [event.pk for _, event in group]
    return True


def _record_failure(event_pk: int, claimed_at, attempts: int | None, exc: Exception) -> Outcome:
    if attempts is None:
        attempts = WebhookEvent.objects.filter(pk=event_pk).values_list("attempts", flat=True).first() or 1
    dead = attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    delay = None if dead else retry_delay(attempts)
    message = f"{exc.__class__.__name__}: {exc}"[:MAX_ERROR_CHARS]
    WebhookEvent.objects.filter(pk=event_pk, status=Status.PROCESSING, claimed_at=claimed_at).update(
        status=Status.DEAD if dead else Status.FAILED,
        last_error=message,
        last_traceback="".join(traceback.format_exception(exc))[-MAX_TRACEBACK_CHARS:],
        next_attempt_at=None if dead else timezone.now() + timedelta(seconds=delay),
    )
    if dead:
        logger.error("Webhook event %s is a dead letter after %s attempts: %s", event_pk, attempts, message)
        return Outcome(Status.DEAD)
    logger.warning("Webhook event %s failed (attempt %s), retry in %ss: %s", event_pk, attempts, delay, message)
    return Outcome(Status.FAILED, retry_in=delay)


def webhook_events_sweep(*, limit: int = 500) -> int:
    """Re-enqueues events whose Celery message was lost: pending or failed past their due time, or processing
    past the lease. A lost claim on the last attempt makes a dead letter. Answers how many it re-enqueued.

    A few statements for the lot: the due rows are taken FOR UPDATE SKIP LOCKED (rows a worker or another
    sweep holds right now are theirs), their deadline is pushed in one UPDATE so that the next sweep does not
    enqueue them again while these messages are queued, and the messages go out after the commit."""
    now = timezone.now()
    due = WebhookEvent.objects.filter(
        status__in=[Status.PENDING, Status.FAILED, Status.PROCESSING], next_attempt_at__lte=now
    )
    with transaction.atomic():
        rows = list(
            due.order_by("next_attempt_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", "status", "attempts")[:limit]
        )
        lost = {
            pk
            for pk, status, attempts in rows
            if status == Status.PROCESSING and attempts >= settings.WEBHOOK_MAX_ATTEMPTS
        }
        requeue = [pk for pk, _, _ in rows if pk not in lost]
        if lost:
            WebhookEvent.objects.filter(pk__in=lost).update(
                status=Status.DEAD,
                last_error=f"The worker processing attempt {settings.WEBHOOK_MAX_ATTEMPTS} was lost "
                "(no result within the lease).",
                next_attempt_at=None,
            )
        if requeue:
            WebhookEvent.objects.filter(pk__in=requeue).update(
                next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
            )
        for pk in requeue:
            enqueue_on_commit(PROCESS_EVENT_TASK, pk)
    if requeue:
        logger.warning("Webhook sweeper re-enqueued %s events", len(requeue))
    return len(requeue)
