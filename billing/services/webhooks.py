"""Webhook processing (SPEC §3): claim, run the handler, mark processed; retries, dead letters, the sweeper,
and the staff operations on events (replay, purge).

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
import traceback
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing import errors
from billing.models import Account, StripeConnection, WebhookEvent
from billing.services.webhook_intake import webhook_event_store
from billing.stripe.client import StripeClient
from billing.stripe.handlers import handler_for

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status
MAX_ERROR_CHARS = 2000
MAX_TRACEBACK_CHARS = 20000


@dataclass(frozen=True)
class Outcome:
    """What one processing attempt did. `retry_in` (seconds) is set when the caller should retry."""

    status: str  # processed | ignored | failed | dead | skipped (not claimed: done, or held by another worker)
    retry_in: int | None = None


def retry_delay(attempts: int) -> int:
    """Exponential backoff after the n-th failed attempt: base, 2×base, 4×base ..., capped."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), settings.WEBHOOK_RETRY_MAX_SECONDS)


def batch_wait(stored_at: float | None, *, now: float) -> float:
    """Seconds a worker waits before claiming a batch whose events were stored at `stored_at` (epoch seconds):
    until WEBHOOK_BATCH_LINGER_MS after that, so that the events stored meanwhile join the batch. None (a
    message without the time) or a message that already waited in the queue that long: no wait."""
    linger = settings.WEBHOOK_BATCH_LINGER_MS / 1000
    if stored_at is None or linger <= 0:
        return 0.0
    return min(max(stored_at + linger - now, 0.0), linger)


def _lease() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_CLAIM_LEASE_SECONDS)


def _claim(event_pks, *, more: int = 0) -> tuple[object, list[int]] | None:
    """Takes the events for this worker, and up to `more` other pending events, oldest first (intake wakes a
    worker for the events stored since the last one answered: billing/services/webhook_doorbell.py): under
    load, batches grow and each event costs less. Answers the claim's timestamp (its token) and the pks it
    took, or None if it got none. An event with a message of its own still on its way is then "skipped"."""
    now = timezone.now()
    claimable = Q(status__in=[Status.PENDING, Status.FAILED]) | Q(
        status=Status.PROCESSING, claimed_at__lt=now - _lease()
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
            next_attempt_at=now + _lease(),
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
    outcomes = {pk: Outcome("skipped") for pk in event_pks}
    claim = _claim(event_pks, more=more)
    if claim is None:
        return outcomes
    claimed_at, event_pks = claim
    failures, claimed = [], []
    try:
        with transaction.atomic():
            events = list(
                WebhookEvent.objects.select_for_update(of=("self",))
                .select_related("account")
                # Rows whose claim is still ours (a lease that ran out may have been taken over).
                .filter(pk__in=list(event_pks), status=Status.PROCESSING, claimed_at=claimed_at)
                .order_by("object_type", "object_id", "created", "stripe_event_id")
            )
            claimed = [event.pk for event in events]
            done: dict[str, list[int]] = {Status.PROCESSED: [], Status.IGNORED: []}
            batches, singles = _by_batch_form(events, done)
            for apply_many, group in batches.items():
                # A group of one is its handler's own call: no need to try it twice if it fails.
                if len(group) == 1 or not _apply_many(apply_many, group, done):
                    singles += [(handler_for(event.relationship, event.type), event) for event in group]
            for handler, event in singles:
                try:
                    with transaction.atomic():
                        handler(event)
                except Exception as exc:  # noqa: BLE001 - recorded on the event, then retried
                    failures.append((event.pk, event.attempts, exc))
                    continue
                done[Status.PROCESSED].append(event.pk)
            now = timezone.now()
            for status, pks in done.items():
                if pks:
                    WebhookEvent.objects.filter(pk__in=pks).update(
                        status=status, processed_at=now, next_attempt_at=None, last_error="", last_traceback=""
                    )
                    outcomes.update((pk, Outcome(status)) for pk in pks)
    except Exception as exc:  # noqa: BLE001 - the batch itself failed (the database): each claimed event failed
        failures = [(pk, None, exc) for pk in (claimed or event_pks)]
    for pk, attempts, exc in failures:
        outcomes[pk] = _record_failure(pk, claimed_at, attempts, exc)
    return outcomes


def _by_batch_form(events, done: dict) -> tuple[dict, list]:
    """The batch's events grouped by their handler's batch form (`apply_many`, which several handlers may
    share), and the (handler, event) pairs of handlers without one, in the events' order. Events without a
    handler are recorded as ignored."""
    batches: dict = {}
    singles = []
    for event in events:
        handler = handler_for(event.relationship, event.type)
        if handler is None:
            done[Status.IGNORED].append(event.pk)
        elif hasattr(handler, "apply_many"):
            batches.setdefault(handler.apply_many, []).append(event)
        else:
            singles.append((handler, event))
    return batches, singles


def _apply_many(apply_many, group: list, done: dict) -> bool:
    """A batch form (`apply_many(events)`, see billing/stripe/handlers.py) on its events at once, in a
    savepoint. If it fails, answers False and its events are left to be handled one by one, so that the one
    at fault fails alone."""
    try:
        with transaction.atomic():
            apply_many(group)
    except Exception:  # noqa: BLE001 - one by one instead, where each failure is recorded on its own event
        logger.info(
            "Batch form %s failed; handling its %s events one by one", getattr(apply_many, "__name__", ""), len(group)
        )
        return False
    done[Status.PROCESSED] += [event.pk for event in group]
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
    from billing.tasks import process_webhook_event

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
        process_webhook_event.delay(pk)
    if requeue:
        logger.warning("Webhook sweeper re-enqueued %s events", len(requeue))
    return len(requeue)


# --- staff operations (admin actions, and the admin toolkit API of SPEC §9) ---------------------------------


def _client_for(relationship: str, account: Account | None) -> StripeClient:
    """The client of the relationship the event belongs to: the account's own Stripe, or the platform's."""
    if relationship == WebhookEvent.Relationship.PLATFORM:
        return StripeClient.for_platform()
    connection = StripeConnection.objects.filter(account=account).first()
    return StripeClient.for_connection(connection)


def webhook_event_replay(*, stripe_event_id: str, account: Account | None = None) -> WebhookEvent:
    """Fetches the event again from Stripe (the account's connection when `account` is given, else the
    platform) and processes it again from scratch: attempts reset, errors cleared. An event we never received
    is stored and processed. Raises NotFound / Stripe errors, or Conflict while a worker holds the event."""
    relationship = WebhookEvent.Relationship.ACCOUNT if account else WebhookEvent.Relationship.PLATFORM
    fresh = _client_for(relationship, account).retrieve_event(stripe_event_id)
    existing = WebhookEvent.objects.filter(
        relationship=relationship, account=account, stripe_event_id=stripe_event_id
    ).first()
    if existing is None:
        receipt = webhook_event_store(fresh, relationship=relationship, account=account)
        return WebhookEvent.objects.get(
            relationship=relationship, account=account, stripe_event_id=receipt.stripe_event_id
        )
    return _reset_for_replay(existing, fresh)


def webhook_event_replay_row(*, event: WebhookEvent) -> WebhookEvent:
    """Replay of a stored event (the admin action)."""
    fresh = _client_for(event.relationship, event.account).retrieve_event(event.stripe_event_id)
    return _reset_for_replay(event, fresh)


def _reset_for_replay(event: WebhookEvent, fresh: dict) -> WebhookEvent:
    from billing.tasks import process_webhook_event

    now = timezone.now()
    not_held = ~Q(status=Status.PROCESSING) | Q(claimed_at__lt=now - _lease())
    obj = (fresh.get("data") or {}).get("object") or {}
    with transaction.atomic():
        reset = WebhookEvent.objects.filter(not_held, pk=event.pk).update(
            payload=fresh,
            type=fresh.get("type") or event.type,
            created=fresh.get("created") or event.created,
            object_id=obj.get("id") or event.object_id,
            status=Status.PENDING,
            attempts=0,
            last_error="",
            last_traceback="",
            claimed_at=None,
            processed_at=None,
            next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS),
        )
        if not reset:
            raise errors.Conflict(
                f"Event {event.stripe_event_id} is being processed right now; replay it once that ends.",
                code="webhook_event_busy",
            )
        process_webhook_event.delay_on_commit(event.pk)
    logger.info("Webhook event %s (%s) replayed", event.stripe_event_id, event.pk)
    event.refresh_from_db()
    return event


def webhook_dead_letter_purge(*, stripe_event_id: str, account: Account | None = None) -> int:
    """Deletes a dead letter after investigation (only a dead one: anything else is not ours to delete).
    Answers how many rows went (0 when there was no such dead letter)."""
    relationship = WebhookEvent.Relationship.ACCOUNT if account else WebhookEvent.Relationship.PLATFORM
    deleted, _ = WebhookEvent.objects.filter(
        relationship=relationship, account=account, stripe_event_id=stripe_event_id, status=Status.DEAD
    ).delete()
    return deleted


def webhook_dead_letters_purge(*, event_pks) -> int:
    """The admin action: deletes those of the given events that are dead letters, and only those."""
    deleted, _ = WebhookEvent.objects.filter(pk__in=list(event_pks), status=Status.DEAD).delete()
    return deleted
