"""End to end against the local Stripe: it signs and posts real deliveries to our app served over HTTP
(pytest-django's live server), a real Celery worker processes them from Redis, and replay fetches from it.

localstripe delivers about a second after the change, so every wait polls with a deadline."""

import pytest

from billing.models import Charge, Customer, Invoice, Price, Product, Subscription, WebhookEvent
from billing.webhooks import operations
from tests.billing.stripe_seed import CARD, Stripe
from tests.harness.stripe_fixtures import TEST_SECRET_KEY, stripe_sdk_client
from tests.helpers.celery_worker import celery_worker
from tests.helpers.polling import wait_until
from tests.helpers.webhooks import ACCOUNT_SECRET, PLATFORM_SECRET, PLATFORM_URL, account_url, connect

pytestmark = pytest.mark.django_db(transaction=True)
Status = WebhookEvent.Status
DONE = (Status.PROCESSED, Status.IGNORED)


@pytest.fixture
def worker(redis_url):
    with celery_worker(redis_url) as running:
        yield running


@pytest.fixture
def connected(account, stripe_api_base):
    connect(account, secret_key=TEST_SECRET_KEY)
    return account


@pytest.fixture
def account_endpoint(connected, live_server, stripe_server, worker):
    stripe_server.register_webhook("account", live_server.url + account_url(connected), ACCOUNT_SECRET)
    return stripe_sdk_client(stripe_server.base_url)


@pytest.fixture
def platform_endpoint(settings, live_server, stripe_server, stripe_api_base, worker):
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET
    stripe_server.register_webhook("platform", live_server.url + PLATFORM_URL, PLATFORM_SECRET)


def delivered(event_type: str, object_id: str, *, account=None, statuses=DONE) -> WebhookEvent:
    def find():
        rows = WebhookEvent.objects.filter(type=event_type, object_id=object_id, status__in=statuses)
        if account is not None:
            rows = rows.filter(account=account)
        return rows.first()

    return wait_until(find, message=f"{event_type} for {object_id} to be delivered and processed")


def test_a_change_in_the_accounts_stripe_is_delivered_signed_stored_once_and_processed(connected, account_endpoint):
    customer = account_endpoint.v1.customers.create(params={"email": "e2e@example.com"})

    row = delivered("customer.created", customer.id, account=connected)
    assert row.relationship == "account"
    assert row.payload["data"]["object"]["email"] == "e2e@example.com"
    assert WebhookEvent.objects.filter(stripe_event_id=row.stripe_event_id).count() == 1


def test_replay_fetches_the_event_again_from_the_accounts_stripe(connected, account_endpoint):
    customer = account_endpoint.v1.customers.create(params={"email": "replay@example.com"})
    row = delivered("customer.created", customer.id, account=connected)
    WebhookEvent.objects.filter(pk=row.pk).update(status=Status.DEAD, attempts=5, last_error="boom", payload={})

    operations.webhook_event_replay(stripe_event_id=row.stripe_event_id, account=connected)

    row = wait_until(
        lambda: WebhookEvent.objects.filter(pk=row.pk, status__in=DONE).first(), message="the replay to finish"
    )
    assert row.payload["data"]["object"]["id"] == customer.id  # fetched again from Stripe
    assert (row.attempts, row.last_error) == (1, "")


def test_a_connect_event_on_the_platform_endpoint_reaches_the_connected_account(
    account, stripe_server, platform_endpoint
):
    connect(account, secret_key=TEST_SECRET_KEY, stripe_user_id="acct_1E2EConnected")
    connected_client = stripe_sdk_client(stripe_server.base_url, stripe_account="acct_1E2EConnected")
    customer = connected_client.v1.customers.create(params={"email": "connect@example.com"})

    row = delivered("customer.created", customer.id)
    assert (row.relationship, row.account_id) == ("account", account.pk)


def test_a_platform_event_stays_on_the_platform(stripe_server, platform_endpoint):
    customer = stripe_sdk_client(stripe_server.base_url).v1.customers.create(params={"email": "ours@example.com"})

    row = delivered("customer.created", customer.id)
    assert (row.relationship, row.account_id) == ("platform", None)


def mirrored(model, account, stripe_id, condition=lambda row: True):
    def find():
        row = model.objects.filter(account=account, stripe_id=stripe_id).first()
        return row if row is not None and condition(row) else None

    return wait_until(find, message=f"{model.__name__} {stripe_id} in the mirror")


def test_the_mirror_follows_the_accounts_stripe_through_real_deliveries(connected, account_endpoint, stripe_server):
    """Each change waits for the previous one to be mirrored, and localstripe delivers a second after a change,
    so the changes of one object fall in distinct seconds: their order is Stripe's `created`, not a tie."""
    stripe = Stripe(stripe_server.base_url)

    # A customer is created, changed, then deleted there: the mirror follows, and keeps the deleted row.
    customer = stripe.post("/v1/customers", email="first@example.com", name="Ada")
    assert mirrored(Customer, connected, customer["id"]).email == "first@example.com"
    stripe.post(f"/v1/customers/{customer['id']}", email="second@example.com")
    mirrored(Customer, connected, customer["id"], lambda row: row.email == "second@example.com")

    # A catalogue and a paid subscription: product, plan, subscription, its invoice and the invoice's payment.
    payer = stripe.post("/v1/customers", email="payer@example.com")
    method = stripe.post("/v1/payment_methods", type="card", card=CARD)
    stripe.post(f"/v1/payment_methods/{method['id']}/attach", customer=payer["id"])
    stripe.post(f"/v1/customers/{payer['id']}", invoice_settings={"default_payment_method": method["id"]})
    product = stripe.post("/v1/products", name="Gold", type="service")
    plan = stripe.post("/v1/plans", product=product["id"], amount=4900, currency="usd", interval="month")
    subscription = stripe.post("/v1/subscriptions", customer=payer["id"], items=[{"plan": plan["id"]}])

    assert mirrored(Product, connected, product["id"]).name == "Gold"
    assert mirrored(Price, connected, plan["id"]).data["amount"] == 4900
    mirrored_sub = mirrored(Subscription, connected, subscription["id"])
    assert mirrored_sub.customer.stripe_id == payer["id"]
    # The local Stripe sends invoice.created, .finalized, .payment_succeeded and .paid within the same second: of
    # events of the same second, the greater event id wins (SPEC §3), so the row holds whichever that is.
    invoice_id = subscription["latest_invoice"]
    invoice_events = ("invoice.created", "invoice.finalized", "invoice.payment_succeeded", "invoice.paid")
    events = [delivered(t, invoice_id, account=connected) for t in invoice_events]
    winner = max(events, key=lambda e: (e.created, e.stripe_event_id))
    invoice = mirrored(Invoice, connected, invoice_id)
    assert invoice.last_event_id == winner.stripe_event_id
    assert invoice.status == winner.payload["data"]["object"]["status"]

    # A one-off payment: localstripe's payment_intent.succeeded carries its charge expanded.
    intent = stripe.post(
        "/v1/payment_intents", amount=1234, currency="usd", customer=payer["id"], payment_method=method["id"]
    )
    stripe.post(f"/v1/payment_intents/{intent['id']}/confirm")
    charge_id = delivered("payment_intent.succeeded", intent["id"], account=connected).payload["data"]["object"][
        "latest_charge"
    ]["id"]
    assert mirrored(Charge, connected, charge_id).amount == 1234

    # Cancelled there: localstripe sends customer.subscription.deleted; the row stays, canceled.
    stripe.delete(f"/v1/subscriptions/{subscription['id']}")
    canceled = mirrored(Subscription, connected, subscription["id"], lambda row: row.status == "canceled")
    assert canceled.deleted is False

    stripe.delete(f"/v1/customers/{customer['id']}")
    assert mirrored(Customer, connected, customer["id"], lambda row: row.deleted).email == "second@example.com"

    # Every delivery was stored once and nothing failed.
    assert not WebhookEvent.objects.exclude(status__in=DONE).exists()
    ids = list(WebhookEvent.objects.values_list("stripe_event_id", flat=True))
    assert len(ids) == len(set(ids))


def test_a_connected_accounts_changes_reach_its_mirror_through_the_platform_endpoint(
    account, stripe_server, platform_endpoint
):
    connect(account, secret_key=TEST_SECRET_KEY, stripe_user_id="acct_1E2EMirror")
    stripe = Stripe(stripe_server.base_url, stripe_account="acct_1E2EMirror")
    customer = stripe.post("/v1/customers", email="connected@example.com")

    assert mirrored(Customer, account, customer["id"]).email == "connected@example.com"
