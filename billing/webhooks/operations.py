"""The staff's operations on stored webhook events (the admin's actions, the admin toolkit API of SPEC §9):
replay an event from Stripe's copy, purge a dead letter. Processing itself is in processing.py."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from billing.models import WebhookEvent
from billing.relationships import Relationship
from billing.webhooks.intake import webhook_event_store
from billing.webhooks.processing import PROCESS_EVENT_TASK, claim_lease
from billing.webhooks.sources import client_for
from core import errors
from core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status


def webhook_event_replay(*, stripe_event_id: str, account: Account | None = None) -> WebhookEvent:
    """Fetches the event again from Stripe (the account's connection when `account` is given, else the
    platform) and processes it again from scratch: attempts reset, errors cleared. An event we never received
    is stored and processed. Raises NotFound / Stripe errors, or Conflict while a worker holds the event."""
    relationship = Relationship.of(account)
    fresh = client_for(relationship, account).retrieve_event(stripe_event_id)
    existing = WebhookEvent.objects.filter(
        relationship=relationship, account=account, stripe_event_id=stripe_event_id
    ).first()
    if existing is None:
        receipt = webhook_event_store(event=fresh, relationship=relationship, account=account)
        return WebhookEvent.objects.get(
            relationship=relationship, account=account, stripe_event_id=receipt.stripe_event_id
        )
    return _reset_for_replay(existing, fresh)


def webhook_event_replay_row(*, event: WebhookEvent) -> WebhookEvent:
    """Replay of a stored event (the admin action)."""
    fresh = client_for(event.relationship, event.account).retrieve_event(event.stripe_event_id)
    return _reset_for_replay(event, fresh)


def _reset_for_replay(event: WebhookEvent, fresh: dict) -> WebhookEvent:
    now = timezone.now()
    not_held = ~Q(status=Status.PROCESSING) | Q(claimed_at__lt=now - claim_lease())
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
        enqueue_on_commit(PROCESS_EVENT_TASK, event.pk)
    logger.info("Webhook event %s (%s) replayed", event.stripe_event_id, event.pk)
    event.refresh_from_db()
    return event


def webhook_dead_letter_purge(*, stripe_event_id: str, account: Account | None = None) -> int:
    """Deletes a dead letter after investigation (only a dead one: anything else is not ours to delete).
    Answers how many rows went (0 when there was no such dead letter)."""
    relationship = Relationship.of(account)
    deleted, _ = WebhookEvent.objects.filter(
        relationship=relationship, account=account, stripe_event_id=stripe_event_id, status=Status.DEAD
    ).delete()
    return deleted


def webhook_dead_letters_purge(*, event_pks) -> int:
    """The admin action: deletes those of the given events that are dead letters, and only those."""
    deleted, _ = WebhookEvent.objects.filter(pk__in=list(event_pks), status=Status.DEAD).delete()
    return deleted


REPLAY_TASK = "billing.replay_webhook_event"


def webhook_events_replay_queue(*, event_pks) -> int:
    """The admin's replay: one task per event, sent after commit, so that the page answers at once and no Stripe
    call happens inside the request; each row shows the outcome when its task is done."""
    pks = list(WebhookEvent.objects.filter(pk__in=list(event_pks)).values_list("pk", flat=True))
    for pk in pks:
        enqueue_on_commit(REPLAY_TASK, pk)
    return len(pks)


def webhook_event_replay_queued(*, event_pk: int, final: bool = True) -> str:
    """A queued replay. Stripe's refusal (a revoked key, an event Stripe no longer keeps) or a worker holding the
    event is written on the row for staff to see; Stripe unavailable is raised for the task to retry, and written
    too once it is the last try (`final`)."""
    event = WebhookEvent.objects.select_related("account").filter(pk=event_pk).first()
    if event is None:
        return "gone"  # purged meanwhile
    try:
        webhook_event_replay_row(event=event)
    except errors.AppError as exc:
        if isinstance(exc, errors.StripeUnavailable) and not final:
            raise
        WebhookEvent.objects.filter(pk=event_pk).update(last_error=f"Replay failed: {exc.message}")
        logger.warning("Replay of webhook event %s failed: %s", event.stripe_event_id, exc.message)
        return "failed"
    return "replayed"
