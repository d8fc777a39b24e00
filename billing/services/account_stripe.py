"""Writes to the account's own Stripe (SPEC §0, §4): Stripe first, with an idempotency key, then the mirror in
the same request, so the SPA reads its write at once.

The mirror row is stamped with the time Stripe answered (`upsert_objects(fetched_at=...)`): a webhook event
about the object created before that is older than what the row holds and changes nothing (the ordering guard,
billing/stripe/mirror/); the event the write itself causes carries the same state. If Stripe refuses or cannot
be reached, its error (core.errors: 422, 502) propagates before anything is written."""

import time

from billing.models import StripeConnection
from billing.stripe import mirror
from billing.stripe.client import StripeClient

DELETED_BY_US = "~deleted-through-the-api"


def account_client(*, account) -> StripeClient:
    """The account's Stripe; NoStripeConnection (409) when it has none, StripeAuthFailed when it cannot be used."""
    return StripeClient.for_connection(StripeConnection.objects.filter(account=account).first())


def idempotency_key(*, account, action: str, request_id: str) -> str:
    """Stripe keeps a key 24 hours and scopes it to the API key: ours is scoped to the account and the action too,
    so one client request id reused for two different actions never replays the wrong answer."""
    return f"acct:{account.pk}:{action}:{request_id}"[:255]


def mirror_saved(*, account, obj: dict):
    """Writes Stripe's answer to the mirror; returns the mirrored row."""
    mirror.upsert_objects(account, obj["object"], [obj], fetched_at=int(time.time()))
    return mirror.model_for(obj["object"]).objects.get(account=account, stripe_id=obj["id"])


def mirror_deleted(*, account, obj: dict) -> None:
    """Stripe's deletion stub (`{"id", "object", "deleted": true}`) marks the mirrored row deleted (kept)."""
    # A deletion is final: its order key sorts after any event of the same second (event ids start "evt_"), so
    # it also wins over our own write of the same second, which was stamped with an empty event id.
    mirror.apply_event_object(account, obj, event_id=DELETED_BY_US, event_created=int(time.time()), deleted=True)
