"""billing/stripe/mirror/ on Stripe's own examples (today's API) and on localstripe's older shapes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

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
    Subscription,
    SubscriptionItem,
)
from billing.stripe import mirror
from tests.billing.stripe_objects import localstripe, today
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def upsert_one(account, obj, **kwargs):
    assert mirror.upsert_objects(account, obj["object"], [obj], **kwargs) == 1
    return mirror.model_for(obj["object"]).objects.get(account=account, stripe_id=obj["id"])


# --- today's API (fixtures3.json) -----------------------------------------------------------------------
def test_today_customer(account):
    row = upsert_one(account, today("customer", email="jenny@example.com", balance=-500))
    assert (row.stripe_id, row.email, row.balance, row.currency) == (
        "cus_QXg1o8vcGmoR32",
        "jenny@example.com",
        -500,
        "usd",
    )
    assert row.created == at(1234567890)
    assert row.livemode is False and row.deleted is False
    assert row.data["invoice_prefix"] == "7FE1103"


def test_today_product_and_price(account):
    product = upsert_one(account, today("product"))
    assert (product.name, product.active, product.default_price_stripe_id) == (
        "T-shirt",
        True,
        "price_1PgafmB7WZ01zgkW02Hf9z6c",
    )
    price = upsert_one(account, today("price"))
    assert price.product_stripe_id == "prod_QXg1hqf4jFNsqG"
    assert (price.unit_amount, price.currency, price.type) == (2000, "usd", "recurring")
    assert (price.recurring_interval, price.recurring_interval_count) == ("month", 1)


def test_a_plan_and_a_price_with_one_id_are_one_row(account):
    upsert_one(account, today("plan"))
    price = upsert_one(account, today("price", nickname="Monthly"))
    assert Price.objects.filter(account=account).count() == 1
    assert price.nickname == "Monthly" and price.unit_amount == 2000


def test_today_subscription_takes_its_period_from_its_items(account):
    sub = today("subscription")
    item = sub["items"]["data"][0]
    item["current_period_start"], item["current_period_end"] = 1721954054, 1724632454
    row = upsert_one(account, sub)
    assert (row.customer_stripe_id, row.status, row.currency) == ("cus_QXg1o8vcGmoR32", "active", "usd")
    assert (row.current_period_start, row.current_period_end) == (at(1721954054), at(1724632454))
    assert row.cancel_at_period_end is True and row.canceled_at == at(1234567890)
    items = list(SubscriptionItem.objects.filter(subscription=row))
    assert [(i.stripe_id, i.price_stripe_id, i.product_stripe_id, i.quantity, i.unit_amount) for i in items] == [
        ("si_QXhVnC2h0Jczwc", "price_1PgafmB7WZ01zgkW6dKueIc5", "prod_QXg1hqf4jFNsqG", 1, 2000)
    ]
    assert items[0].current_period_end == at(1724632454)


def test_today_invoice_reads_its_subscription_from_parent(account):
    invoice = today(
        "invoice", parent={"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}}
    )
    row = upsert_one(account, invoice)
    assert row.subscription_stripe_id == "sub_1"
    assert (row.status, row.amount_due, row.amount_paid, row.amount_remaining, row.total) == (
        "draft",
        1000,
        0,
        1000,
        1000,
    )
    assert row.customer_stripe_id == "cus_QXg1o8vcGmoR32" and row.due_date == at(1234567890)
    assert row.data["lines"]["data"][0]["id"] == "il_1Pgc6sB7WZ01zgkWFnxLrLCq"


def test_today_payment_method_and_charge_link_their_customer(account):
    customer = upsert_one(account, today("customer"))
    pm = upsert_one(account, today("payment_method", customer=customer.stripe_id))
    assert (pm.type, pm.card_brand, pm.card_last4, pm.card_exp_month, pm.card_exp_year) == (
        "card",
        "visa",
        "4242",
        8,
        2030,
    )
    assert pm.customer_id == customer.pk
    charge = upsert_one(account, today("charge", customer=customer.stripe_id, amount_refunded=40))
    assert charge.customer_id == customer.pk
    assert (charge.amount, charge.amount_captured, charge.amount_refunded, charge.status) == (
        100,
        0,
        40,
        "succeeded",
    )
    assert (charge.payment_method_type, charge.card_brand, charge.card_last4) == ("card", "visa", "4242")
    assert charge.balance_transaction_stripe_id == "txn_1PgaxNB7WZ01zgkWEV3TLf40"


def test_today_refund_dispute_payout_balance_transaction(account):
    refund = upsert_one(account, today("refund"))
    assert (refund.charge_stripe_id, refund.amount, refund.status) == (
        "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        100,
        "succeeded",
    )
    dispute = upsert_one(account, today("dispute"))
    assert (dispute.amount, dispute.status, dispute.reason) == (1000, "warning_needs_response", "general")
    assert dispute.evidence_due_by == at(1723679999) and dispute.is_charge_refundable is True
    payout = upsert_one(account, today("payout"))
    assert (payout.amount, payout.status, payout.arrival_date, payout.automatic) == (
        1100,
        "in_transit",
        at(1234567890),
        True,
    )
    txn = mirror.upsert_objects(account, "balance_transaction", [today("balance_transaction")], payout=payout.stripe_id)
    assert txn == 1
    row = BalanceTransaction.objects.get(account=account)
    assert (row.amount, row.fee, row.net, row.type, row.payout_stripe_id) == (
        100,
        0,
        100,
        "charge",
        payout.stripe_id,
    )
    assert row.source_stripe_id == "ch_1PgafuB7WZ01zgkWXYmPNZs8"


# --- localstripe's older shapes -------------------------------------------------------------------------
def test_localstripe_customer_balance_is_account_balance(account):
    row = upsert_one(account, localstripe("customer", account_balance=-250))
    assert (row.balance, row.email, row.name, row.default_payment_method_stripe_id) == (
        -250,
        "a@b.c",
        "A",
        "pm_M354BjcdtdM0NF",
    )


def test_localstripe_plan_is_a_price(account):
    row = upsert_one(account, localstripe("plan"))
    assert isinstance(row, Price)
    assert (row.unit_amount, row.currency, row.type, row.recurring_interval) == (
        1000,
        "usd",
        "recurring",
        "month",
    )
    assert row.product_stripe_id == "prod_1KCZjNImsc3IBN" and row.nickname == "P"


def test_localstripe_subscription_period_on_the_subscription(account):
    row = upsert_one(account, localstripe("subscription"))
    assert (row.current_period_start, row.current_period_end) == (at(1795311322), at(1797903322))
    assert row.currency == "usd" and row.latest_invoice_stripe_id == "in_s0ilQN1F6NdjAY"
    item = SubscriptionItem.objects.get(subscription=row)
    assert (item.price_stripe_id, item.unit_amount) == ("plan_0kufDDq0qW9MBP", 1000)
    # The item has no period of its own in this shape: it takes the subscription's.
    assert item.current_period_end == at(1797903322)


def test_localstripe_invoice_charge_refund_payout(account):
    invoice = upsert_one(account, localstripe("invoice"))
    assert invoice.subscription_stripe_id == "sub_iF5ehPKTsmvTkX"
    assert invoice.charge_stripe_id == "ch_2ZCfkysGaKtOSh"  # expanded in this shape
    assert (invoice.amount_paid, invoice.amount_remaining, invoice.paid_at) == (1000, 0, at(1795311322))
    charge = upsert_one(account, localstripe("charge"))
    assert (charge.amount, charge.amount_captured, charge.amount_refunded, charge.disputed) == (
        1000,
        1000,
        100,
        False,
    )
    assert charge.payment_intent_stripe_id == "pi_aGH7CEpzgUpfWh"
    refund = upsert_one(account, localstripe("refund"))
    assert (refund.amount, refund.charge_stripe_id) == (100, "ch_2ZCfkysGaKtOSh")
    payout = upsert_one(account, localstripe("payout"))
    assert (payout.amount, payout.currency, payout.status) == (100, "eur", "paid")
    assert upsert_one(account, localstripe("payment_method")).card_last4 == "4242"
    assert upsert_one(account, localstripe("product")).name == "P"


# --- bulk behaviour -------------------------------------------------------------------------------------
def test_upsert_twice_updates_in_place(account):
    mirror.upsert_objects(account, "customer", [today("customer", id=f"cus_{i}", email=f"{i}@x.io") for i in range(5)])
    mirror.upsert_objects(
        account, "customer", [today("customer", id=f"cus_{i}", email=f"new{i}@x.io") for i in range(5)]
    )
    assert Customer.objects.filter(account=account).count() == 5
    assert set(Customer.objects.values_list("email", flat=True)) == {f"new{i}@x.io" for i in range(5)}


def test_accounts_do_not_share_rows(account):
    other = AccountFactory()
    mirror.upsert_objects(account, "product", [today("product")])
    mirror.upsert_objects(other, "product", [today("product", name="Theirs")])
    assert Product.objects.get(account=account).name == "T-shirt"
    assert Product.objects.get(account=other).name == "Theirs"


def test_items_gone_from_a_subscription_are_removed(account):
    sub = localstripe("subscription")
    second = dict(sub["items"]["data"][0], id="si_second")
    sub["items"]["data"].append(second)
    row = upsert_one(account, sub)
    assert set(SubscriptionItem.objects.filter(subscription=row).values_list("stripe_id", flat=True)) == {
        "si_BvI8RIjtDoITvr",
        "si_second",
    }
    sub["items"]["data"] = [second]
    upsert_one(account, sub)
    assert list(SubscriptionItem.objects.filter(subscription=row).values_list("stripe_id", flat=True)) == ["si_second"]


def test_queries_per_page_do_not_grow_with_the_page(account):
    customers = [today("customer", id=f"cus_{i:03}") for i in range(100)]
    mirror.upsert_objects(account, "customer", customers)

    def page(n):
        return [
            localstripe(
                "subscription",
                id=f"sub_{n}_{i:03}",
                customer=f"cus_{i:03}",
                items={
                    "data": [dict(localstripe("subscription")["items"]["data"][0], id=f"si_{n}_{i:03}")],
                    "has_more": False,
                },
            )
            for i in range(n)
        ]

    with CaptureQueriesContext(connection) as small:
        mirror.upsert_objects(account, "subscription", page(10), seen_in_run=1, fetched_at=1)
    with CaptureQueriesContext(connection) as large:
        mirror.upsert_objects(account, "subscription", page(100), seen_in_run=1, fetched_at=1)
    # SQLite splits an INSERT at 999 parameters; that is the only growth allowed.
    assert len(large) <= len(small) + 8
    assert len(large) <= 14
    assert Subscription.objects.filter(account=account, customer__isnull=False).count() == 110


def test_fetched_at_never_overwrites_a_newer_event(account):
    mirror.apply_event_object(account, today("customer", email="from-event@x.io"), event_id="evt_1", event_created=2000)
    written = mirror.upsert_objects(account, "customer", [today("customer", email="from-list@x.io")], fetched_at=1500)
    assert written == 0
    assert Customer.objects.get(account=account).email == "from-event@x.io"
    mirror.upsert_objects(account, "customer", [today("customer", email="later-list@x.io")], fetched_at=2500)
    row = Customer.objects.get(account=account)
    assert (row.email, row.last_event_created, row.last_event_id) == ("later-list@x.io", 2500, "")
    # ... and an event older than that page is ignored.
    assert not mirror.apply_event_object(
        account, today("customer", email="old@x.io"), event_id="evt_2", event_created=2400
    )


# --- apply_event_object ---------------------------------------------------------------------------------
def test_apply_creates_then_orders_by_created_then_event_id(account):
    obj = today("customer", email="one@x.io")
    assert mirror.apply_event_object(account, obj, event_id="evt_b", event_created=100)
    assert not mirror.apply_event_object(
        account, today("customer", email="older@x.io"), event_id="evt_z", event_created=99
    )
    assert not mirror.apply_event_object(
        account, today("customer", email="tie-lower@x.io"), event_id="evt_a", event_created=100
    )
    assert not mirror.apply_event_object(account, obj, event_id="evt_b", event_created=100)  # the same event again
    assert mirror.apply_event_object(
        account, today("customer", email="tie-higher@x.io"), event_id="evt_c", event_created=100
    )
    row = Customer.objects.get(account=account)
    assert (row.email, row.last_event_created, row.last_event_id) == ("tie-higher@x.io", 100, "evt_c")


def test_apply_deleted_stub_marks_and_keeps_data(account):
    mirror.apply_event_object(account, today("customer", email="keep@x.io"), event_id="evt_1", event_created=100)
    stub = today("deleted_customer")
    assert stub == {"deleted": True, "id": "cus_QXg1o8vcGmoR32", "object": "customer"}
    assert mirror.apply_event_object(account, stub, event_id="evt_2", event_created=101)
    row = Customer.objects.get(account=account)
    assert row.deleted is True and row.email == "keep@x.io" and row.data["email"] == "keep@x.io"
    # An event about a deleted object we never saw still leaves a row that says so.
    assert mirror.apply_event_object(
        account, {"id": "cus_gone", "object": "customer", "deleted": True}, event_id="e", event_created=5
    )
    assert Customer.objects.get(stripe_id="cus_gone").deleted is True


def test_apply_with_deleted_flag_on_a_full_object(account):
    sub = localstripe("subscription", status="canceled")
    assert mirror.apply_event_object(account, sub, event_id="evt_1", event_created=10, deleted=True)
    row = Subscription.objects.get(account=account)
    assert row.deleted is True and row.status == "canceled"
    assert SubscriptionItem.objects.filter(subscription=row).count() == 1


def test_apply_links_customer_both_ways(account):
    assert mirror.apply_event_object(account, localstripe("charge"), event_id="evt_1", event_created=10)
    charge = Charge.objects.get(account=account)
    assert charge.customer_id is None  # its customer is not mirrored yet
    mirror.apply_event_object(account, localstripe("customer"), event_id="evt_2", event_created=11)
    charge.refresh_from_db()
    assert charge.customer.stripe_id == "cus_TlWtICdGg60IPx"
    invoice = localstripe("invoice")
    mirror.apply_event_object(account, invoice, event_id="evt_3", event_created=12)
    assert Invoice.objects.get(account=account).customer_id == charge.customer_id


def test_apply_rejects_what_the_mirror_does_not_keep(account):
    with pytest.raises(mirror.UnsupportedObject):
        mirror.apply_event_object(account, {"id": "cs_1", "object": "checkout.session"}, event_id="e", event_created=1)
    assert mirror.is_mirrored("charge") and not mirror.is_mirrored("checkout.session")


# --- deletions and links after a sync pass --------------------------------------------------------------
def test_mark_unseen_deleted_spares_rows_newer_than_the_pass(account):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    old = int((start - timedelta(days=30)).timestamp())
    mirror.upsert_objects(
        account, "customer", [today("customer", id="cus_old1", created=old)], seen_in_run=1, fetched_at=old
    )
    mirror.upsert_objects(
        account, "customer", [today("customer", id="cus_old2", created=old)], seen_in_run=1, fetched_at=old
    )
    mirror.upsert_objects(
        account,
        "customer",
        [today("customer", id="cus_old2", created=old)],
        seen_in_run=2,
        fetched_at=old + 1,
    )
    # Created in Stripe after the pass began (behind its cursor), and touched by a webhook during the pass.
    mirror.upsert_objects(account, "customer", [today("customer", id="cus_new", created=int(start.timestamp()) + 5)])
    mirror.upsert_objects(account, "customer", [today("customer", id="cus_hooked", created=old)], seen_in_run=1)
    mirror.apply_event_object(
        account,
        today("customer", id="cus_hooked", created=old),
        event_id="e",
        event_created=int(start.timestamp()) + 9,
    )

    assert mirror.mark_unseen_deleted(account, "customer", pass_id=2, since=start) == 1
    assert list(Customer.objects.filter(deleted=True).values_list("stripe_id", flat=True)) == ["cus_old1"]


def test_link_customers_fills_missing_foreign_keys(account):
    mirror.upsert_objects(account, "charge", [localstripe("charge")])
    mirror.upsert_objects(account, "payment_method", [localstripe("payment_method")])
    mirror.upsert_objects(account, "customer", [localstripe("customer")])
    assert mirror.link_customers(account) == 2
    customer = Customer.objects.get(account=account)
    assert Charge.objects.get().customer == customer and PaymentMethod.objects.get().customer == customer
    assert mirror.link_customers(account) == 0


def test_every_object_name_has_a_model():
    assert mirror.OBJECT_NAMES == {
        "customer", "product", "price", "plan", "subscription", "invoice", "payment_method", "charge",
        "refund", "dispute", "payout", "balance_transaction",
    }  # fmt: skip
    assert mirror.model_for("plan") is Price and mirror.model_for("dispute") is Dispute
    assert mirror.model_for("payout") is Payout and mirror.model_for("refund") is Refund
