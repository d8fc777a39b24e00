"""Who may deliver a webhook (SPEC §3): each account's signing secret (kept for a few seconds per process),
the signature checked against it, and Connect events routed to the accounts connected to the Stripe account they
name. Intake (intake.py) calls these for every batch; nothing here writes."""

import time
import uuid

from django.conf import settings
from django.db.models import Q

from billing.models import StripeConnection
from billing.stripe.client import StripeClient
from core import errors
from core.secrets import UnreadableSecret


class _SigningSecrets:
    """The accounts' signing secrets, kept for a few seconds in this process (WEBHOOK_SECRET_CACHE_SECONDS):
    reading and decrypting them for every batch costs more than storing the batch. A secret changed in
    another process is picked up when its entry expires, or at once when a signature fails to verify with the
    kept one (`refresh`); the connection service forgets the entry when it changes a connection here."""

    def __init__(self):
        self._entries: dict[str, tuple[float, uuid.UUID, object]] = {}

    def lookup(self, account_ids: set[str]) -> dict[str, tuple]:
        """account id as given → (account uuid, signing secret or None), for the active accounts with a
        connection; ids that are not account ids, or of no such account, are left out."""
        now = time.monotonic()
        found = {}
        for given in account_ids:
            entry = self._entries.get(given)
            if entry is not None and entry[0] > now:
                found[given] = entry[1:]
        missing = account_ids - found.keys()
        if missing:
            found.update(self.refresh(missing))
        return found

    def refresh(self, account_ids: set[str]) -> dict[str, tuple]:
        by_uuid = {}
        for given in account_ids:
            try:
                by_uuid[uuid.UUID(given)] = given
            except ValueError:
                continue
        if not by_uuid:
            return {}
        connections = StripeConnection.objects.filter(account_id__in=by_uuid, account__is_active=True).only(
            "account_id", "webhook_secret"
        )
        expires = time.monotonic() + settings.WEBHOOK_SECRET_CACHE_SECONDS
        fresh = {by_uuid[c.account_id]: (c.account_id, c.webhook_secret) for c in connections}
        for given in account_ids:
            if given in fresh:
                self._entries[given] = (expires, *fresh[given])
            else:
                self._entries.pop(given, None)
        if len(self._entries) > 10_000:  # many accounts: drop the expired
            self._entries = {k: v for k, v in self._entries.items() if v[0] > time.monotonic()}
        return fresh

    def forget(self, account_id) -> None:
        self._entries.pop(str(account_id), None)


_signing_secrets = _SigningSecrets()


def signing_secrets_lookup(account_ids: set[str]) -> dict[str, tuple]:
    """account id as given → (account uuid, signing secret or None), for the active accounts with a connection."""
    return _signing_secrets.lookup(account_ids)


def signing_secret_forget(*, account_id) -> None:
    """The account's connection changed in this process: its next delivery reads the secret again."""
    _signing_secrets.forget(account_id)


def delivery_verify(delivery, secrets: dict) -> tuple[dict, uuid.UUID | None]:
    """The verified event and the account of the endpoint (None: the platform's)."""
    secret = _secret_for(delivery.account_id, secrets)
    try:
        event = StripeClient.verify_webhook(delivery.payload, delivery.signature, secret)
    except errors.InvalidInput:
        if delivery.account_id is None:
            raise
        # The secret kept here may be older than the connection's: read it again, verify once more.
        secrets.update(_signing_secrets.refresh({delivery.account_id}))
        fresh = _secret_for(delivery.account_id, secrets)
        if fresh == secret:
            raise
        event = StripeClient.verify_webhook(delivery.payload, delivery.signature, fresh)
    return event, secrets[delivery.account_id][0] if delivery.account_id else None


def _secret_for(account_id: str | None, secrets: dict):
    if account_id is None:
        if not settings.STRIPE_WEBHOOK_SECRET:
            raise errors.InvalidInput(
                "The platform webhook signing secret is not configured (STRIPE_WEBHOOK_SECRET).",
                code="webhook_secret_missing",
            )
        return settings.STRIPE_WEBHOOK_SECRET
    if account_id not in secrets:
        try:
            uuid.UUID(account_id)
        except ValueError:
            raise errors.InvalidInput(f"{account_id!r} is not an account id.", code="webhook_unknown_account") from None
        raise errors.InvalidInput(
            f"No account {account_id} with a Stripe connection: check the webhook URL.",
            code="webhook_unknown_account",
        )
    account_uuid, secret = secrets[account_id]
    if isinstance(secret, UnreadableSecret):
        # This account's secret only: its deliveries are refused, the rest of the batch goes on.
        raise errors.InvalidInput(
            f"Account {account_uuid}'s webhook signing secret cannot be decrypted (FIELD_ENCRYPTION_KEY): "
            "store it again on its Stripe connection.",
            code="webhook_secret_unreadable",
        )
    if not secret:
        raise errors.InvalidInput(
            f"Account {account_uuid} has no webhook signing secret: add it to its Stripe connection.",
            code="webhook_secret_missing",
        )
    return secret


def connected_accounts(stripe_account_ids: set) -> dict[str, list]:
    """Connect routing: Stripe account id → our accounts connected to it (live connections, active accounts)."""
    routes: dict[str, list] = {}
    if not stripe_account_ids:
        return routes
    names = [str(name) for name in stripe_account_ids]
    connections = (
        StripeConnection.objects.filter(Q(stripe_user_id__in=names) | Q(stripe_account_id__in=names))
        .exclude(status=StripeConnection.Status.DISCONNECTED)
        .filter(account__is_active=True)
        .values_list("account_id", "stripe_user_id", "stripe_account_id")
    )
    for account_id, user_id, own_id in connections:
        for name in {user_id, own_id} & set(names):
            routes.setdefault(name, []).append(account_id)
    return routes


def connect_route(connected, routes: dict) -> list:
    account_ids = routes.get(str(connected))
    if not account_ids:
        raise errors.InvalidInput(
            f"The event names connected account {connected!r}, which no account here is connected to.",
            code="webhook_unknown_connected_account",
        )
    return sorted(set(account_ids), key=str)
