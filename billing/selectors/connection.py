"""Reads about an account's Stripe connection and its sync runs. Never a secret."""

from django.conf import settings
from django.urls import reverse

from billing.models import StripeConnection, SyncRun
from billing.stripe.sync_sources import RESOURCES


def account_webhook_url(*, account) -> str:
    """Where the account points its Stripe webhook endpoint (SPEC §3): its public id in the path."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("billing:webhook-account", kwargs={"account_id": account.pk})


def sync_run_latest(*, account) -> SyncRun | None:
    return SyncRun.objects.filter(account=account).order_by("-started_at", "-id").first()


def sync_run_progress(*, run: SyncRun | None) -> dict[str, dict]:
    """{resource: {"status", "synced", "pages", "error"}} in the order resources are listed."""
    if run is None:
        return {}
    rows = {row.resource: row for row in run.resources.all()}
    return {
        name: {"status": row.status, "synced": row.synced, "pages": row.pages, "error": row.error}
        for name in RESOURCES
        if (row := rows.get(name)) is not None
    }


def connection_status(*, account) -> dict:
    """What GET /stripe-connection/ shows. No connection reads as `disconnected`."""
    connection = StripeConnection.objects.filter(account=account).first()
    run = sync_run_latest(account=account)
    base = {
        "status": StripeConnection.Status.DISCONNECTED,
        "status_reason": "",
        "initialized": False,
        "last_synced_at": None,
        "auth_mode": None,
        "stripe_account_id": "",
        "livemode": False,
        "has_webhook_secret": False,
    }
    if connection is not None:
        base.update(
            status=connection.status,
            status_reason=connection.status_reason,
            initialized=connection.initialized,
            last_synced_at=connection.last_synced_at,
            auth_mode=connection.auth_mode or None,
            stripe_account_id=connection.stripe_account_id,
            livemode=connection.livemode,
            has_webhook_secret=bool(connection.webhook_secret),
        )
    return {**base, "webhook_url": account_webhook_url(account=account), "progress": sync_run_progress(run=run)}
