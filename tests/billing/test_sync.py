"""The initial sync and re-syncs against the local Stripe: everything mirrored, progress and completion announced
once, re-syncs without duplicates and with Stripe's changes and deletions, Connect isolation."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from rest_framework.test import APIClient

from accounts.notifications import user_group
from billing.models import (
    BalanceTransaction,
    Charge,
    Customer,
    Dispute,
    Invoice,
    PaymentMethod,
    Payout,
    Price,
    Product,
    Refund,
    StripeConnection,
    Subscription,
    SubscriptionItem,
    SyncResource,
    SyncRun,
)
from billing.stripe.sync import DATA_FETCHED_MESSAGE
from billing.stripe.sync_sources import RESOURCES
from tests.billing.stripe_seed import Stripe, seed_account
from tests.conftest import token_for
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.notifications import record_notifications
from tests.helpers.ws import receive_events, websocket

pytestmark = pytest.mark.django_db(transaction=True)

CONNECTION_URL = "/api/v1/billing/stripe-connection/"
SYNC_URL = "/api/v1/billing/sync/"


@pytest.fixture
def stripe(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0  # every injected fault reaches our code, no SDK sleeps
    return Stripe(stripe_api_base)


def connect(api, **credentials):
    return api.post(CONNECTION_URL, credentials or {"secret_key": TEST_SECRET_KEY}, format="json")


def by_id(rows):
    return {row.stripe_id: row for row in rows}


def assert_mirrors(stripe: Stripe, account):
    """Every object Stripe lists is mirrored once, with its typed columns, and nothing else is live."""
    customers = stripe.list_all("/v1/customers")
    mirrored = by_id(Customer.objects.filter(account=account, deleted=False))
    assert set(mirrored) == {c["id"] for c in customers}
    for customer in customers:
        row = mirrored[customer["id"]]
        assert (row.email, row.name, row.deleted) == (customer["email"], customer["name"], False)

    methods = [pm for c in customers for pm in stripe.list_all("/v1/payment_methods", customer=c["id"], type="card")]
    rows = by_id(PaymentMethod.objects.filter(account=account, deleted=False).select_related("customer"))
    assert set(rows) == {pm["id"] for pm in methods}
    for pm in methods:
        assert rows[pm["id"]].customer.stripe_id == pm["customer"]
        assert rows[pm["id"]].card_last4 == "4242"

    assert set(Product.objects.filter(account=account, deleted=False).values_list("stripe_id", flat=True)) == {
        p["id"] for p in stripe.list_all("/v1/products")
    }
    prices = stripe.list_all("/v1/prices") + stripe.list_all("/v1/plans")
    price_rows = by_id(Price.objects.filter(account=account, deleted=False))
    assert set(price_rows) == {p["id"] for p in prices}
    for price in stripe.list_all("/v1/prices"):
        row = price_rows[price["id"]]
        assert (row.unit_amount, row.currency, row.type) == (price["unit_amount"], price["currency"], price["type"])

    subscriptions = stripe.list_all("/v1/subscriptions", status="all")
    sub_rows = by_id(Subscription.objects.filter(account=account, deleted=False).select_related("customer"))
    assert set(sub_rows) == {s["id"] for s in subscriptions}
    for sub in subscriptions:
        row = sub_rows[sub["id"]]
        assert (row.status, row.customer.stripe_id) == (sub["status"], sub["customer"])
        assert int(row.current_period_end.timestamp()) == sub["current_period_end"]
        assert set(row.items.values_list("stripe_id", flat=True)) == {i["id"] for i in sub["items"]["data"]}

    for path, model, columns in (
        ("/v1/invoices", Invoice, ("status", "amount_paid", "customer_stripe_id")),
        ("/v1/charges", Charge, ("amount", "amount_refunded", "status", "customer_stripe_id")),
        ("/v1/refunds", Refund, ("amount", "charge_stripe_id")),
        ("/v1/payouts", Payout, ("amount", "currency", "status")),
    ):
        objects = stripe.list_all(path)
        rows = by_id(model.objects.filter(account=account, deleted=False))
        assert set(rows) == {o["id"] for o in objects}, path
        for obj in objects:
            assert tuple(getattr(rows[obj["id"]], c) for c in columns) == tuple(
                obj[c.removesuffix("_stripe_id")] for c in columns
            ), path
    # Charges and invoices point at their mirrored customer (resolved after the run when synced in parallel).
    assert not Charge.objects.filter(account=account, customer__isnull=True).exclude(customer_stripe_id="").exists()


@pytest.mark.asyncio
async def test_connect_mirrors_everything_and_announces_completion_once(stripe, account, owner, settings):
    settings.BILLING_SYNC_PROGRESS_SECONDS = 0  # every page announced (the default throttles to twice a second)
    await sync_to_async(seed_account)(stripe, customers=250)
    token = await sync_to_async(token_for)(owner, account)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    async with websocket(token) as (ws, connected, _):
        assert connected
        response = await sync_to_async(connect)(api)
        # The tasks ran eagerly inside the request: every event is already on its way. A last marker, sent
        # through the same layer, tells when all of them have arrived.
        await get_channel_layer().group_send(
            user_group(owner.pk, account.id), {"type": "notify", "event": "end", "data": {}}
        )
        events = await receive_events(ws, until="end")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["initialized"], body["auth_mode"]) == ("ready", True, "secret_key")
    assert body["last_synced_at"] is not None
    assert list(body["progress"]) == list(RESOURCES)
    assert all(p["status"] == "done" for p in body["progress"].values())
    assert body["progress"]["customers"]["synced"] == 250 and body["progress"]["customers"]["pages"] == 3

    names = [e["event"] for e in events]
    assert names.count("billing_data_fetched") == 1 and "billing_data_fetch_failed" not in names
    assert names[-2:] == ["billing_data_fetched", "end"]
    fetched = events[-2]["data"]
    assert fetched == {"message": DATA_FETCHED_MESSAGE, "type": "success"}
    progress = [e["data"] for e in events if e["event"] == "billing_sync_progress"]
    assert {p["resource"] for p in progress} == set(RESOURCES)
    assert all(p["total_resources"] == len(RESOURCES) for p in progress)
    customer_counts = [p["synced"] for p in progress if p["resource"] == "customers"]
    assert customer_counts == [100, 200, 250]
    assert [p["done_resources"] for p in progress] == sorted(p["done_resources"] for p in progress)

    await sync_to_async(assert_mirrors)(stripe, account)
    connection = await StripeConnection.objects.aget(account=account)
    assert (connection.status, connection.initialized) == ("ready", True)
    run = await SyncRun.objects.aget(account=account)
    assert (run.status, run.kind, run.started_by_id) == ("completed", "initial", owner.pk)


def test_resync_picks_up_changes_and_deletions_without_duplicates(stripe, api, account, monkeypatch):
    # Deletions are judged on whole seconds (Stripe's clock): what is deleted here was created well before.
    retired = stripe.post("/v1/products", name="Retired", type="service")  # no prices: Stripe lets it go
    seeded = seed_account(stripe, customers=120)
    assert connect(api).status_code == 201
    sent = record_notifications(monkeypatch)
    kept, gone = seeded.customers[0], seeded.customers[1]
    stripe.post(f"/v1/customers/{kept['id']}", email="changed@example.com")
    stripe.delete(f"/v1/customers/{gone['id']}")
    new = stripe.post("/v1/customers", email="new@example.com", name="New")
    stripe.delete(f"/v1/products/{retired['id']}")
    stripe.delete(f"/v1/subscriptions/{seeded.subscriptions[0]['id']}")  # canceled: still listed, not deleted
    stripe.post("/v1/refunds", charge=stripe.list_all("/v1/charges")[-1]["id"], amount=50)

    response = api.post(SYNC_URL)

    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "resync"
    run = SyncRun.objects.get(pk=response.json()["id"])
    assert run.status == "completed", (run.reason, list(run.resources.values("resource", "status", "error")))
    assert sent.of("billing_data_fetched") == [{"message": DATA_FETCHED_MESSAGE, "type": "success"}]
    customers = by_id(Customer.objects.filter(account=account))
    assert len(customers) == 121  # 120 + 1 new, the deleted one kept and marked
    assert Customer.objects.filter(account=account).values("stripe_id").distinct().count() == 121
    assert customers[kept["id"]].email == "changed@example.com"
    assert customers[gone["id"]].deleted is True and customers[gone["id"]].email == gone["email"]
    assert customers[new["id"]].deleted is False
    assert Customer.objects.filter(account=account, deleted=True).count() == 1
    # Its card went with it; the others were seen again.
    assert list(
        PaymentMethod.objects.filter(account=account, deleted=True).values_list("customer_stripe_id", flat=True)
    ) == [gone["id"]]
    assert Product.objects.get(stripe_id=retired["id"]).deleted is True
    assert Product.objects.filter(account=account, deleted=False).count() == len(seeded.products)
    canceled = Subscription.objects.get(stripe_id=seeded.subscriptions[0]["id"])
    assert (canceled.status, canceled.deleted) == ("canceled", False)
    assert Refund.objects.filter(account=account).count() == 3
    assert SubscriptionItem.objects.filter(account=account).count() == len(seeded.subscriptions)
    assert_mirrors(stripe, account)


def test_a_second_sync_while_one_runs_is_refused(stripe, api, account):
    assert connect(api).status_code == 201
    SyncRun.objects.create(account=account)  # still running
    response = api.post(SYNC_URL)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "sync_already_running"
    assert SyncRun.objects.filter(account=account, status="running").count() == 1


def test_get_sync_shows_the_latest_run(stripe, api, account):
    assert api.get(SYNC_URL).status_code == 404
    seed_account(stripe, customers=3, subscriptions=1, payments=1, refunds=1, payouts=1)
    connect(api)
    body = api.get(SYNC_URL).json()
    assert body["status"] == "completed" and body["progress"]["customers"]["synced"] == 3
    assert SyncResource.objects.filter(run_id=body["id"]).count() == len(RESOURCES)


def test_connect_mode_mirrors_only_the_connected_account(stripe, api, account, stripe_api_base):
    seed_account(stripe, customers=5, subscriptions=1, payments=1, refunds=0, payouts=0)  # the platform's
    connected = Stripe(stripe_api_base, stripe_account="acct_1Connected")
    theirs = seed_account(connected, customers=3, subscriptions=1, payments=1, refunds=1, payouts=1)

    response = connect(api, access_token=TEST_SECRET_KEY, stripe_user_id="acct_1Connected")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["auth_mode"], body["stripe_account_id"], body["status"]) == ("connect", "acct_1Connected", "ready")
    assert set(Customer.objects.filter(account=account).values_list("stripe_id", flat=True)) == {
        c["id"] for c in theirs.customers
    }
    assert_mirrors(connected, account)


def test_payouts_with_their_balance_transactions_disputes_and_payment_links_are_mirrored(
    stripe, api, account, stripe_server
):
    customer = stripe.post("/v1/customers", email="payer@example.com")
    charges = [
        stripe.post("/v1/payment_intents", amount=1000 * (n + 1), currency="usd", payment_method="pm_card_visa",
                    customer=customer["id"], confirm=True)["latest_charge"]["id"]
        for n in range(3)
    ]  # fmt: skip
    stripe.post("/v1/refunds", charge=charges[0], amount=300)
    dispute = stripe_server.open_dispute(charges[1], status="lost")
    paid = stripe_server.create_payout(currency="usd", charges=charges[:2])
    pending = stripe_server.create_payout(currency="usd", status="pending")
    link = stripe.post("/v1/invoices", customer=customer["id"], collection_method="send_invoice", days_until_due=7)
    stripe.post("/v1/invoiceitems", customer=customer["id"], invoice=link["id"], amount=4200, currency="usd")
    link = stripe.post(f"/v1/invoices/{link['id']}/finalize")

    assert connect(api).status_code == 201

    payouts = by_id(Payout.objects.filter(account=account))
    assert {po_id: (row.amount, row.status) for po_id, row in payouts.items()} == {
        paid["id"]: (1000 - 300 + 2000 - 2000, "paid"),
        pending["id"]: (3000, "pending"),
    }
    swept = BalanceTransaction.objects.filter(account=account)
    by_payout = {po_id: sorted(swept.filter(payout_stripe_id=po_id).values_list("type", "amount")) for po_id in payouts}
    assert by_payout == {
        paid["id"]: [("adjustment", -2000), ("charge", 1000), ("charge", 2000), ("payout", -700), ("refund", -300)],
        pending["id"]: [("charge", 3000), ("payout", -3000)],
    }
    mirrored = Dispute.objects.get(account=account)
    assert (mirrored.stripe_id, mirrored.status, mirrored.amount, mirrored.charge_stripe_id) == (
        dispute["id"], "lost", 2000, charges[1]
    )  # fmt: skip
    assert Charge.objects.get(stripe_id=charges[1]).disputed is True
    invoice = Invoice.objects.get(stripe_id=link["id"])
    assert (invoice.status, invoice.amount_due, invoice.hosted_invoice_url) == (
        "open",
        4200,
        link["hosted_invoice_url"],
    )
    assert invoice.due_date is not None and invoice.collection_method == "send_invoice"
