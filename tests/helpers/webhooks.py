"""Helpers for webhook tests: a connected account, and posting signed deliveries to our endpoints."""

from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import StripeConnection, WebhookEvent
from tests.helpers.stripe_signing import signed_delivery

ACCOUNT_SECRET = "whsec_account_test_secret"
PLATFORM_SECRET = "whsec_platform_test_secret"


def connect(
    account,
    *,
    webhook_secret: str | None = ACCOUNT_SECRET,
    stripe_user_id: str = "",
    secret_key: str = "sk_test_" + "x" * 24,
    **fields,
):
    return StripeConnection.objects.create(
        account=account,
        auth_mode=StripeConnection.AuthMode.CONNECT if stripe_user_id else StripeConnection.AuthMode.SECRET_KEY,
        secret_key=secret_key,
        stripe_user_id=stripe_user_id,
        webhook_secret=webhook_secret,
        status=StripeConnection.Status.READY,
        **fields,
    )


def account_url(account) -> str:
    return reverse("billing:webhook-account", kwargs={"account_id": account.pk})


# The published path (SPEC §3), spelled out: a test of it must fail if the route moves.
PLATFORM_URL = "/api/v1/billing/webhooks/stripe/"


def post_event(url: str, event: dict, secret: str, *, timestamp: int | None = None, client=None):
    body, headers = signed_delivery(event, secret, timestamp=timestamp)
    return (client or APIClient()).post(url, data=body, content_type="application/json", **headers)


def stored_event(account, event_id: str, *, event_type: str, obj: dict | None = None, created: int = 1, **fields):
    """A webhook event as intake stores it (`pending`, an account event), without a delivery; `fields` override
    any column (status, attempts, claimed_at, payload ...)."""
    obj = obj or {}
    columns = {
        "stripe_event_id": event_id,
        "relationship": "account",
        "account": account,
        "type": event_type,
        "created": created,
        "object_id": obj.get("id", ""),
        "object_type": obj.get("object", ""),
        "payload": {"id": event_id, "type": event_type, "created": created, "data": {"object": obj}},
        "received_at": timezone.now(),
    }
    return WebhookEvent.objects.create(**{**columns, **fields})
