"""No event is ever missed (issue 16, §3): Stripe's Events API read back for events we do not hold.

Stripe retries a delivery for 3 days and keeps events for 30. An endpoint that was down, misconfigured or
behind a broken proxy for longer, or a delivery Stripe gave up on, would leave the mirror (or an account's plan)
behind for good. So a beat task (hourly) lists, for the platform and for each connected account, the events
created since the source was last checked, and stores those we lack through intake's own insert
(`webhook_events_store`): stored once whichever way they came, processed by the same workers and handlers.

The window of a source starts at its watermark (`WebhookBackfill.checked_through`, where its last complete
run ended) less an overlap (`WEBHOOK_BACKFILL_OVERLAP_SECONDS`: an event is listed from its `created`, which
can precede the moment it becomes visible), or, for a source never checked, at the newest event we hold from it
less the overlap, or at the connection's creation (the initial sync covers what came before); never more
than `WEBHOOK_BACKFILL_MAX_DAYS` back (Stripe keeps 30 days). A run moves the watermark only when it
completed and its window joined the checked span: a failed run, or a staff run over an older range, leaves it.

Cost: one page read per 100 events of the window, one `SELECT` of the page's ids we hold and one insert of
the missing ones per page; nothing else happens for events we already hold.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from accounts.models import Account
from billing.models import StripeConnection, WebhookBackfill, WebhookEvent
from billing.relationships import Relationship
from billing.webhooks.intake import webhook_events_store
from billing.webhooks.sources import client_for
from core.queue import enqueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackfillResult:
    relationship: str
    account_id: str | None
    since: datetime
    until: datetime
    listed: int
    fed: int

    def as_dict(self) -> dict:
        return {
            "relationship": self.relationship,
            "account_id": self.account_id,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "listed": self.listed,
            "fed": self.fed,
        }


def backfill_sources() -> list[tuple[str, str | None]]:
    """(relationship, account id) of every source to check: the platform when it has a key, and each active
    account whose Stripe is connected."""
    sources: list[tuple[str, str | None]] = []
    if settings.STRIPE_SECRET_KEY:
        sources.append((Relationship.PLATFORM, None))
    connected = (
        StripeConnection.objects.exclude(status=StripeConnection.Status.DISCONNECTED)
        .filter(account__is_active=True)
        .order_by("account_id")
        .values_list("account_id", flat=True)
    )
    sources.extend((Relationship.ACCOUNT, str(account_id)) for account_id in connected)
    return sources


def webhook_events_backfill(
    *,
    relationship: str,
    account_id=None,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: int = 100,
) -> BackfillResult:
    """Lists the source's events created in [since, until] and stores those we lack. Without `since`, the
    window starts from the source's watermark (see the module's docstring). Raises Stripe's errors (the task
    retries the unavailable ones); the watermark then stays where it was."""
    account = Account.objects.get(pk=account_id) if relationship == Relationship.ACCOUNT else None
    state = _state(relationship, account)
    now = timezone.now()
    until = min(until or now, now)
    if since is None:
        since = _default_since(relationship, account, state, now)
    since = max(since, now - timedelta(days=settings.WEBHOOK_BACKFILL_MAX_DAYS))
    client = client_for(relationship, account)
    listed = fed = 0
    try:
        cursor = None
        while True:
            events, has_more = client.list_page(
                "/v1/events",
                limit=page_size,
                starting_after=cursor,
                created={"gte": int(since.timestamp()), "lte": int(until.timestamp())},
            )
            listed += len(events)
            fed += _feed(events, relationship, account)
            if not has_more or not events:
                break
            cursor = events[-1]["id"]
    except Exception as exc:
        WebhookBackfill.objects.filter(pk=state.pk).update(last_run_at=now, last_error=f"{type(exc).__name__}: {exc}")
        raise
    joined = state.checked_through is None or since <= state.checked_through
    WebhookBackfill.objects.filter(pk=state.pk).update(
        last_run_at=now,
        last_listed=listed,
        last_fed=fed,
        total_fed=state.total_fed + fed,
        last_error="",
        **({"checked_through": max(until, state.checked_through or until)} if joined else {}),
    )
    if fed:
        # Each one is an event Stripe did not deliver to us (or not yet): worth a look at the endpoint.
        logger.warning(
            "Backfill stored %d event(s) of %d listed for %s %s that no delivery had brought",
            fed,
            listed,
            relationship,
            account.pk if account else "",
        )
    return BackfillResult(relationship, str(account.pk) if account else None, since, until, listed, fed)


def _state(relationship: str, account: Account | None) -> WebhookBackfill:
    state, _ = WebhookBackfill.objects.get_or_create(relationship=relationship, account=account)
    return state


def _default_since(relationship: str, account: Account | None, state: WebhookBackfill, now: datetime) -> datetime:
    overlap = timedelta(seconds=settings.WEBHOOK_BACKFILL_OVERLAP_SECONDS)
    if state.checked_through is not None:
        return state.checked_through - overlap
    newest = (WebhookEvent.objects.filter(relationship=relationship, account=account).aggregate(newest=Max("created")))[
        "newest"
    ]
    if newest is not None:
        return datetime.fromtimestamp(newest, tz=UTC) - overlap
    if account is not None:
        connected_at = StripeConnection.objects.filter(account=account).values_list("created_at", flat=True).first()
        if connected_at is not None:
            return connected_at - overlap
    return now - timedelta(days=settings.WEBHOOK_BACKFILL_MAX_DAYS)


def _feed(events: list[dict], relationship: str, account: Account | None) -> int:
    """Stores the page's events we do not hold; answers how many were stored."""
    if not events:
        return 0
    held = set(
        WebhookEvent.objects.filter(
            relationship=relationship, account=account, stripe_event_id__in=[event["id"] for event in events]
        ).values_list("stripe_event_id", flat=True)
    )
    missing = [event for event in events if event["id"] not in held]
    if not missing:
        return 0
    receipts = webhook_events_store(events=missing, relationship=relationship, account=account)
    return sum(len(receipt.stored) for receipt in receipts)


BACKFILL_SOURCE_TASK = "billing.backfill_webhook_source"


def webhook_backfill_enqueue_all() -> int:
    """The hourly beat's fan-out: one task per source, so that a slow or failing source holds up no other."""
    sources = backfill_sources()
    for relationship, account_id in sources:
        enqueue(BACKFILL_SOURCE_TASK, relationship, account_id)
    return len(sources)
