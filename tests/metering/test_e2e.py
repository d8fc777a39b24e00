"""End to end on the local Stripe: a pack bought through our API and paid on the local Stripe's checkout, whose
own signed deliveries reach our platform endpoint (pytest-django's live server) and a real Celery worker
processes them from Redis; then a refund and a won dispute made on the local Stripe come back the same way."""

import pytest
from rest_framework.test import APIClient

from billing.models import WebhookEvent
from metering.models import ExtrasBalance, LedgerEntry
from tests.billing.stripe_seed import Stripe
from tests.conftest import token_for
from tests.helpers.celery_worker import celery_worker
from tests.helpers.polling import wait_until
from tests.helpers.webhooks import PLATFORM_SECRET, PLATFORM_URL

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def platform_endpoint(settings, live_server, stripe_server, stripe_api_base, redis_url):
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_server.register_webhook("platform", live_server.url + PLATFORM_URL, PLATFORM_SECRET)
    with celery_worker(redis_url):
        yield Stripe(stripe_api_base, key=settings.STRIPE_SECRET_KEY)


def balance(account):
    row = ExtrasBalance.objects.filter(account=account).first()
    return row.cached_balance if row else None


def test_a_pack_is_credited_refunded_and_disputed_through_the_platform_webhook(
    owner, account, stripe_server, platform_endpoint
):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(owner, account)}")
    checkout = client.post("/api/v1/metering/extras/checkout/", {"pack_id": "extras-1k"}, format="json").json()
    session = stripe_server.complete_checkout(checkout["session_id"])

    wait_until(lambda: balance(account) == 1000, message="the pack to be credited from the delivered event")
    row = WebhookEvent.objects.get(type="checkout.session.completed", object_id=session["id"])
    assert (row.relationship, row.status) == ("platform", "processed")

    platform_endpoint.post("/v1/refunds", payment_intent=session["payment_intent"], amount=250)
    wait_until(lambda: balance(account) == 750, message="the refund's clawback")

    latest = platform_endpoint.get(f"/v1/payment_intents/{session['payment_intent']}")["latest_charge"]
    charge_id = latest["id"] if isinstance(latest, dict) else latest
    dispute = stripe_server.open_dispute(charge_id, amount=100)
    wait_until(lambda: balance(account) == 0, message="the dispute's debit")
    stripe_server.close_dispute(dispute["id"], "won")
    wait_until(lambda: balance(account) == 750, message="the reinstated funds")
    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["adjustment", "debit", "refund", "topup"]


def test_a_staff_refund_of_a_pack_from_the_toolkit_claws_its_units_back(
    owner, account, stripe_server, platform_endpoint
):
    """Issue 16: a pack refunded by staff through the toolkit (`POST /api/v1/admin/billing/refunds/`) comes back as
    the platform's `charge.refunded`, whose metering handler takes the units back; the toolkit never calls
    metering itself."""
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(owner, account)}")
    checkout = client.post("/api/v1/metering/extras/checkout/", {"pack_id": "extras-1k"}, format="json").json()
    session = stripe_server.complete_checkout(checkout["session_id"])
    wait_until(lambda: balance(account) == 1000, message="the pack to be credited")
    latest = platform_endpoint.get(f"/v1/payment_intents/{session['payment_intent']}")["latest_charge"]
    charge_id = latest["id"] if isinstance(latest, dict) else latest
    price = platform_endpoint.get(f"/v1/charges/{charge_id}")["amount"]

    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="billing_admin_ops"))
    toolkit = APIClient()
    toolkit.force_login(staff)
    response = toolkit.post(
        "/api/v1/admin/billing/refunds/",
        {
            "charge_id": charge_id,
            "amount": price // 2,
            "reason": "requested_by_customer",
            "refund_request_id": "pack-half-1",
        },
        format="json",
    )

    assert response.status_code in (200, 201), response.content
    wait_until(lambda: balance(account) == 500, message="half the pack's units clawed back by the webhook")
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
