"""Webhook intake (SPEC §3): verify the signature, store the event once, enqueue its processing after commit.

This is what runs while Stripe waits for our answer, so it does the least that makes the event safe: one read
(the account's signing secret), one insert, one broker publish after commit. No Stripe call, no handler.
Exactly-once comes from the unique constraints on WebhookEvent: a duplicate delivery is an IntegrityError on
insert (never a read-then-write race) and answers 2xx without enqueueing anything.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing import errors
from billing.models import Account, StripeConnection, WebhookEvent
from billing.stripe.client import StripeClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    """What intake did with one delivery: the rows stored (one per account it is routed to), duplicates."""

    stripe_event_id: str
    stored: tuple[int, ...]
    duplicates: int

    @property
    def duplicate(self) -> bool:
        return not self.stored and self.duplicates > 0


def webhook_receive_account(*, account_id: str, payload: bytes, signature: str | None) -> Receipt:
    """A delivery on the account's own endpoint, verified with its connection's signing secret.
    Raises InvalidInput (400) for an unknown account, a missing secret, a bad signature or body."""
    connection = _connection_of(account_id)
    event = StripeClient.verify_webhook(payload, signature, connection.webhook_secret)
    return _store(event, relationship=WebhookEvent.Relationship.ACCOUNT, account_ids=[connection.account_id])


def webhook_receive_platform(*, payload: bytes, signature: str | None) -> Receipt:
    """A delivery on the platform endpoint, verified with settings.STRIPE_WEBHOOK_SECRET. An event that names
    a connected account (`account`, Connect) belongs to that account's relationship, never the platform's."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise errors.InvalidInput(
            "The platform webhook signing secret is not configured (STRIPE_WEBHOOK_SECRET).",
            code="webhook_secret_missing",
        )
    event = StripeClient.verify_webhook(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
    connected = event.get("account")
    if not connected:
        return _store(event, relationship=WebhookEvent.Relationship.PLATFORM, account_ids=[None])
    account_ids = list(
        StripeConnection.objects.filter(Q(stripe_user_id=connected) | Q(stripe_account_id=connected))
        .exclude(status=StripeConnection.Status.DISCONNECTED)
        .filter(account__is_active=True)
        .values_list("account_id", flat=True)
    )
    if not account_ids:
        raise errors.InvalidInput(
            f"The event names connected account {connected!r}, which no account here is connected to.",
            code="webhook_unknown_connected_account",
        )
    return _store(event, relationship=WebhookEvent.Relationship.ACCOUNT, account_ids=account_ids)


def webhook_event_store(event: dict, *, relationship: str, account: Account | None) -> Receipt:
    """Stores an event that did not come through an endpoint (a replay of an event we never received)."""
    return _store(event, relationship=relationship, account_ids=[account.pk if account else None])


def _connection_of(account_id: str) -> StripeConnection:
    try:
        account_uuid = uuid.UUID(str(account_id))
    except ValueError:
        raise errors.InvalidInput(f"{account_id!r} is not an account id.", code="webhook_unknown_account") from None
    connection = (
        StripeConnection.objects.filter(account_id=account_uuid, account__is_active=True)
        .only("account_id", "webhook_secret")
        .first()
    )
    if connection is None:
        raise errors.InvalidInput(
            f"No account {account_uuid} with a Stripe connection: check the webhook URL.",
            code="webhook_unknown_account",
        )
    if not connection.webhook_secret:
        raise errors.InvalidInput(
            f"Account {account_uuid} has no webhook signing secret: add it to its Stripe connection.",
            code="webhook_secret_missing",
        )
    return connection


def _event_fields(event: dict) -> dict:
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        raise errors.InvalidInput("Webhook event has no integer `created`.", code="webhook_body_invalid")
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        obj = {}
    return {
        "stripe_event_id": str(event["id"])[:255],
        "type": str(event["type"])[:100],
        "api_version": str(event.get("api_version") or "")[:40],
        "livemode": bool(event.get("livemode")),
        "created": created,
        "object_id": str(obj.get("id") or "")[:255],
        "object_type": str(obj.get("object") or "")[:60],
        "payload": event,
    }


def _store(event: dict, *, relationship: str, account_ids: list) -> Receipt:
    from billing.tasks import process_webhook_event  # tasks import services: import here, not at the top

    fields = _event_fields(event)
    now = timezone.now()
    stored, duplicates = [], 0
    for account_id in account_ids:
        try:
            with transaction.atomic():
                row = WebhookEvent.objects.create(
                    **fields,
                    relationship=relationship,
                    account_id=account_id,
                    received_at=now,
                    # If its Celery message is lost, the sweeper picks it up after this.
                    next_attempt_at=now + timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS),
                )
                process_webhook_event.delay_on_commit(row.pk)
        except IntegrityError:
            # Already stored by an earlier (or concurrent) delivery: that one's processing covers it.
            duplicates += 1
            continue
        stored.append(row.pk)
    if duplicates:
        logger.info("Duplicate delivery of %s (%s) ignored", fields["stripe_event_id"], fields["type"])
    return Receipt(stripe_event_id=fields["stripe_event_id"], stored=tuple(stored), duplicates=duplicates)
