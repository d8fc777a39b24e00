"""/api/v1/billing/stripe-connection/ and /sync/: who may connect, what is checked before storing, what is shown
(never a secret, neither in the API, the admin nor the logs), disconnecting, and 409 without a connection."""

import json
import logging

import pytest
from django.db import connection as db
from django.test import Client
from rest_framework.test import APIClient

from billing.models import Customer, StripeConnection, SyncRun
from tests.billing.stripe_seed import Stripe, seed_account
from tests.conftest import token_for
from tests.factories import MembershipFactory, UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/billing/stripe-connection/"
SYNC_URL = "/api/v1/billing/sync/"
WEBHOOK_SECRET = "whsec_test_connection_api_0123456789"
OTHER_KEY = "sk_test_51SecondKeyOfTheSameAccount000000000000000000000000"


@pytest.fixture
def stripe(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


def client_for(user, account) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    return client


def member_of(account, role) -> APIClient:
    user = UserFactory()
    MembershipFactory(user=user, account=account, role=role)
    return client_for(user, account)


def test_connect_stores_encrypted_and_shows_no_secret(stripe, api, account, owner, caplog, settings):
    for logger in (None, "stripe", "billing", "django", "celery"):  # each at its most talkative
        caplog.set_level(logging.DEBUG, logger=logger)
    settings.PUBLIC_BASE_URL = "https://billing.example.com"

    response = api.post(URL, {"secret_key": TEST_SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}, format="json")

    assert response.status_code == 201, response.content
    body = api.get(URL).json()
    assert set(body) == {
        "status", "status_reason", "initialized", "last_synced_at", "auth_mode", "stripe_account_id", "livemode",
        "webhook_url", "has_webhook_secret", "progress",
    }  # fmt: skip
    assert (body["status"], body["auth_mode"], body["has_webhook_secret"], body["livemode"]) == (
        "ready",
        "secret_key",
        True,
        False,
    )
    assert body["stripe_account_id"].startswith("acct_")
    assert body["webhook_url"] == f"https://billing.example.com/api/v1/billing/webhooks/stripe/{account.id}/"
    assert "Request to Stripe api" in caplog.text  # the SDK's own request log was captured too
    for text in (response.content.decode(), json.dumps(body), caplog.text):
        assert TEST_SECRET_KEY not in text and WEBHOOK_SECRET not in text
        assert TEST_SECRET_KEY[-12:] not in text
    connection = StripeConnection.objects.get(account=account)
    assert connection.secret_key.reveal() == TEST_SECRET_KEY
    assert connection.webhook_secret.reveal() == WEBHOOK_SECRET
    assert connection.connected_by == owner
    with db.cursor() as cursor:  # at rest: ciphertext only
        cursor.execute("SELECT secret_key, webhook_secret FROM billing_stripeconnection")
        stored = cursor.fetchone()
    assert TEST_SECRET_KEY not in stored[0] and WEBHOOK_SECRET not in stored[1]


def test_the_admin_never_shows_the_secrets(stripe, api, account):
    api.post(URL, {"secret_key": TEST_SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}, format="json")
    connection = StripeConnection.objects.get(account=account)
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(staff)

    pages = [
        browser.get(f"/admin/billing/stripeconnection/{connection.pk}/change/"),
        browser.get("/admin/billing/stripeconnection/"),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert TEST_SECRET_KEY not in html and WEBHOOK_SECRET not in html and TEST_SECRET_KEY[-12:] not in html
    assert connection.stripe_account_id in pages[0].content.decode()


def test_staff_cannot_add_a_connection_in_the_admin(db):
    """A connection comes from the API, which checks the credentials against Stripe first: the admin's add page
    (which could offer neither account nor key, and answered 500 on save) is refused."""
    browser = Client()
    browser.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert browser.get("/admin/billing/stripeconnection/add/").status_code == 403
    assert browser.post("/admin/billing/stripeconnection/add/", {"status": "ready"}).status_code == 403
    assert not StripeConnection.objects.exists()


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"secret_key": "pk_test_123"}, "stripe_key_invalid"),
        ({"secret_key": "not-a-key"}, "stripe_key_invalid"),
        ({}, "stripe_credentials_missing"),
        ({"access_token": TEST_SECRET_KEY}, "stripe_credentials_missing"),
        ({"secret_key": TEST_SECRET_KEY, "access_token": TEST_SECRET_KEY}, "stripe_credentials_ambiguous"),
        ({"access_token": TEST_SECRET_KEY, "stripe_user_id": "cus_1"}, "stripe_key_invalid"),
        ({"secret_key": TEST_SECRET_KEY, "webhook_secret": "nope"}, "webhook_secret_invalid"),
    ],
)
def test_malformed_credentials_are_refused_and_nothing_is_stored(stripe, api, account, payload, code):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert not StripeConnection.objects.exists() and not SyncRun.objects.exists()


def test_a_key_stripe_refuses_is_400_and_nothing_is_stored(stripe, stripe_server, api, account):
    stripe_server.revoke_key(OTHER_KEY)
    response = api.post(URL, {"secret_key": OTHER_KEY}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "stripe_credentials_refused"
    assert "Stripe refused these credentials" in error["message"] and "Check the key" in error["message"]
    assert OTHER_KEY not in response.content.decode()
    assert not StripeConnection.objects.exists() and not SyncRun.objects.exists()


def test_stripe_down_is_502_and_nothing_is_stored(stripe, stripe_server, api, account):
    stripe_server.fail_next("/v1/account", 503, method="GET")
    response = api.post(URL, {"secret_key": TEST_SECRET_KEY}, format="json")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "stripe_unavailable"
    assert not StripeConnection.objects.exists()


def test_a_member_may_look_but_not_connect_disconnect_or_sync(stripe, account):
    client = member_of(account, "member")
    assert client.post(URL, {"secret_key": TEST_SECRET_KEY}, format="json").status_code == 403
    assert client.delete(URL).status_code == 403
    assert client.post(SYNC_URL).status_code == 403
    assert client.get(URL).status_code == 200
    assert not StripeConnection.objects.exists()


def test_an_admin_may_connect(stripe, account):
    client = member_of(account, "admin")
    assert client.post(URL, {"secret_key": TEST_SECRET_KEY}, format="json").status_code == 201


def test_without_a_connection_get_says_disconnected_and_sync_is_409(api, account):
    body = api.get(URL).json()
    assert (body["status"], body["initialized"], body["progress"]) == ("disconnected", False, {})
    response = api.post(SYNC_URL)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stripe_not_connected"
    assert "Connect Stripe first" in response.json()["error"]["message"]


def test_disconnect_wipes_secrets_keeps_the_mirror_and_blocks_syncs(stripe, api, account, owner):
    seed_account(stripe, customers=3, subscriptions=1, payments=1, refunds=0, payouts=0)
    api.post(URL, {"secret_key": TEST_SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}, format="json")
    assert Customer.objects.filter(account=account).count() == 3

    assert api.delete(URL).status_code == 204

    connection = StripeConnection.objects.get(account=account)
    assert (connection.status, connection.secret_key, connection.webhook_secret) == ("disconnected", None, None)
    assert connection.status_reason == f"Disconnected by {owner.username}."
    assert Customer.objects.filter(account=account).count() == 3
    body = api.get(URL).json()
    assert (body["status"], body["has_webhook_secret"]) == ("disconnected", False)
    assert api.post(SYNC_URL).status_code == 409
    assert api.delete(URL).status_code == 204  # again: harmless


def test_connecting_again_replaces_the_credentials(stripe, api, account):
    first = api.post(URL, {"secret_key": TEST_SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}, format="json")
    assert first.status_code == 201

    second = api.post(URL, {"secret_key": OTHER_KEY}, format="json")

    assert second.status_code == 200
    connection = StripeConnection.objects.get(account=account)
    assert connection.secret_key.reveal() == OTHER_KEY
    # Same Stripe account: its webhook secret still holds.
    assert connection.webhook_secret.reveal() == WEBHOOK_SECRET
    assert SyncRun.objects.filter(account=account).count() == 2
    assert StripeConnection.objects.filter(account=account).count() == 1


def test_reconnecting_stops_a_running_sync_silently(stripe, api, account):
    api.post(URL, {"secret_key": TEST_SECRET_KEY}, format="json")
    running = SyncRun.objects.create(account=account)

    assert api.post(URL, {"secret_key": OTHER_KEY}, format="json").status_code == 200

    running.refresh_from_db()
    assert running.status == "failed" and running.reason.startswith("Superseded")
    assert SyncRun.objects.filter(account=account).order_by("-id").first().status == "completed"


def test_openapi_schema_documents_the_endpoints(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    connection = schema["paths"]["/api/v1/billing/stripe-connection/"]
    assert {"get", "post", "delete"} <= set(connection)
    assert {"200", "201", "400", "403", "502"} <= set(connection["post"]["responses"])
    assert {"202", "409"} <= set(schema["paths"]["/api/v1/billing/sync/"]["post"]["responses"])
