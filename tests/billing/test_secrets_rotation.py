"""FIELD_ENCRYPTION_KEY rotation seen from the account's own Stripe: a new key added, every secret re-encrypted,
the old key removed, and sync and webhooks still work; a secret that no key decrypts fails its own account's
webhooks and sync with a clear reason, never another account's."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection as db

from billing.models import Customer, StripeConnection, SyncRun, WebhookEvent
from billing.webhooks.intake import Delivery, webhook_receive_batch
from billing.webhooks.verification import signing_secret_forget
from core import errors
from tests.billing.stripe_seed import Stripe
from tests.conftest import token_for
from tests.factories import AccountFactory, MembershipFactory, UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.polling import wait_until
from tests.helpers.stripe_signing import make_event, sign
from tests.helpers.webhooks import ACCOUNT_SECRET, PLATFORM_SECRET, account_url, connect, post_event

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
LOST_KEY = Fernet.generate_key().decode()
CONNECTION_URL = "/api/v1/billing/stripe-connection/"
SYNC_URL = "/api/v1/billing/sync/"


@pytest.fixture(autouse=True)
def _platform_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET
    settings.WEBHOOK_BATCH_LINGER_MS = 0  # eager workers: no gathering wait


def connected_under(settings, key: str, **fields):
    """A connected account whose secrets were written under `key`, then FIELD_ENCRYPTION_KEY is back to OLD_KEY."""
    account = AccountFactory()
    settings.FIELD_ENCRYPTION_KEY = key
    connect(account, **fields)
    settings.FIELD_ENCRYPTION_KEY = OLD_KEY
    return account


def customer_event(customer_id: str, **kwargs) -> dict:
    return make_event("customer.created", {"id": customer_id, "object": "customer", "email": "r@example.com"}, **kwargs)


def delivery(event: dict, secret: str, account=None) -> Delivery:
    import json

    body = json.dumps(event).encode()
    return Delivery(payload=body, signature=sign(body, secret), account_id=str(account.pk) if account else None)


def api_for(account):
    from rest_framework.test import APIClient

    user = UserFactory(password="correct horse battery staple")
    MembershipFactory(user=user, account=account, role="owner")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    return client


@pytest.mark.django_db
def test_an_unreadable_signing_secret_refuses_only_that_accounts_deliveries(
    settings, django_capture_on_commit_callbacks
):
    lost = connected_under(settings, LOST_KEY)
    good = connected_under(settings, OLD_KEY)
    batch = [
        delivery(customer_event("cus_lost"), ACCOUNT_SECRET, lost),
        delivery(customer_event("cus_good"), ACCOUNT_SECRET, good),
        delivery(customer_event("cus_platform"), PLATFORM_SECRET),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        results = webhook_receive_batch(deliveries=batch)

    assert isinstance(results[0], errors.InvalidInput) and results[0].code == "webhook_secret_unreadable"
    assert results[0].status == 400 and str(lost.pk) in results[0].message
    assert results[1].stored and results[2].stored
    assert set(WebhookEvent.objects.values_list("object_id", "status")) == {
        ("cus_good", WebhookEvent.Status.PROCESSED),
        ("cus_platform", WebhookEvent.Status.IGNORED),  # no platform handler for it yet: stored, ignored
    }
    assert Customer.objects.filter(account=good, stripe_id="cus_good").exists()

    response = post_event(account_url(lost), customer_event("cus_lost"), ACCOUNT_SECRET)  # the DRF path
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_secret_unreadable"
    assert not WebhookEvent.objects.filter(account=lost).exists()


@pytest.mark.django_db(transaction=True)
def test_an_unreadable_stripe_key_fails_only_that_accounts_sync_with_the_reason(settings):
    lost = connected_under(settings, LOST_KEY)
    api = api_for(lost)

    response = api.post(SYNC_URL)
    assert response.status_code == 202, response.content

    run = SyncRun.objects.get(account=lost)
    assert run.status == SyncRun.Status.FAILED
    assert "cannot be decrypted with FIELD_ENCRYPTION_KEY" in run.reason and "Reconnect Stripe" in run.reason
    status = api.get(CONNECTION_URL)  # the connection still reads: its status says why
    assert status.status_code == 200
    assert status.json()["status"] == "failed" and status.json()["status_reason"] == run.reason


@pytest.mark.django_db(transaction=True)
def test_key_rotation_add_rotate_remove_keeps_sync_and_webhooks_working(settings, stripe_api_base):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.FIELD_ENCRYPTION_KEY = OLD_KEY
    account = AccountFactory()
    api = api_for(account)
    stripe = Stripe(stripe_api_base)
    for n in range(3):
        stripe.post("/v1/customers", email=f"before-{n}@example.com")
    connected = api.post(CONNECTION_URL, {"secret_key": TEST_SECRET_KEY, "webhook_secret": ACCOUNT_SECRET})
    assert connected.status_code == 201 and connected.json()["status"] == "ready", connected.content
    assert Customer.objects.filter(account=account).count() == 3

    settings.FIELD_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"  # 1. the new key added, first
    call_command("rotate_field_encryption_key", "--batch-size", "1")  # 2. every secret re-encrypted
    settings.FIELD_ENCRYPTION_KEY = NEW_KEY  # 3. the old key removed
    signing_secret_forget(account_id=account.pk)  # read the signing secret from the database again

    pk = StripeConnection.objects.get(account=account).pk
    with db.cursor() as cursor:
        cursor.execute("SELECT secret_key, webhook_secret FROM billing_stripeconnection WHERE id = %s", [pk])
        stored = cursor.fetchone()
    for ciphertext in stored:  # nothing is left that needs the old key
        with pytest.raises(InvalidToken):
            Fernet(OLD_KEY.encode()).decrypt(ciphertext.encode())

    stripe.post("/v1/customers", email="after-rotation@example.com")
    assert api.post(SYNC_URL).status_code == 202
    run = SyncRun.objects.filter(account=account).first()
    assert run.status == SyncRun.Status.COMPLETED, run.reason
    assert Customer.objects.filter(account=account, email="after-rotation@example.com").exists()

    event = customer_event("cus_webhook_after_rotation")
    response = post_event(account_url(account), event, ACCOUNT_SECRET)
    assert response.status_code == 200, response.content
    wait_until(
        lambda: Customer.objects.filter(account=account, stripe_id="cus_webhook_after_rotation").exists(),
        message="the webhook's customer to be mirrored",
    )
