"""The local Stripe's invoicing, payouts, disputes, declines and payments, through the real Stripe SDK: what the
account's billing API (customers, payment links, payouts, disputes, overview) is built and tested against."""

import time
from collections.abc import Iterator

import pytest
import requests
import stripe

from tests.harness.stripe_fixtures import ControlError, stripe_sdk_client
from tests.harness.webhook_receiver import WebhookReceiver

WEBHOOK_SECRET = "whsec_harness_billing_secret"
DAY = 24 * 3600


@pytest.fixture
def client(stripe_api_base) -> stripe.StripeClient:
    return stripe_sdk_client(stripe_api_base)


@pytest.fixture
def webhooks(stripe_server, stripe_api_base) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    stripe_server.register_webhook("billing", receiver.url, receiver.secret)
    yield receiver
    receiver.close()


def _customer(client, *, with_card: bool = True) -> stripe.Customer:
    customer = client.v1.customers.create({"email": "payer@example.com", "name": "Payer"})
    if with_card:
        card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
        customer = client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
    return customer


def _charge(client, amount: int, currency: str = "usd", **params) -> str:
    intent = client.v1.payment_intents.create(
        {"amount": amount, "currency": currency, "payment_method": "pm_card_visa", "confirm": True, **params}
    )
    assert intent.status == "succeeded"
    return intent.latest_charge if isinstance(intent.latest_charge, str) else intent.latest_charge.id


def _payment_link(client, customer_id: str, **params) -> stripe.Invoice:
    invoice = client.v1.invoices.create(
        {"customer": customer_id, "collection_method": "send_invoice", "days_until_due": 14, **params}
    )
    client.v1.invoice_items.create(
        {"customer": customer_id, "invoice": invoice.id, "amount": 5000, "currency": "usd", "description": "Design"}
    )
    return invoice


# --- payment links: ad-hoc invoices -----------------------------------------------------------------------------


def test_ad_hoc_invoice_is_finalized_with_a_hosted_page_that_pays_it(client):
    customer = _customer(client, with_card=False)
    hours = client.v1.prices.create({"currency": "usd", "unit_amount": 1200, "product_data": {"name": "Hours"}})
    before = int(time.time())
    draft = client.v1.invoices.create(
        {
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "description": "Thanks for your business",
            "metadata": {"order": "42"},
        }
    )
    assert (draft.status, draft.collection_method, draft.billing_reason) == ("draft", "send_invoice", "manual")
    assert draft.hosted_invoice_url is None and draft.number is None and draft.amount_due == 0
    assert before + 30 * DAY <= draft.due_date <= int(time.time()) + 30 * DAY
    client.v1.invoice_items.create(
        {"customer": customer.id, "invoice": draft.id, "amount": 5000, "currency": "usd", "description": "Design"}
    )
    client.v1.invoice_items.create({"customer": customer.id, "invoice": draft.id, "price": hours.id, "quantity": 3})

    invoice = client.v1.invoices.finalize_invoice(draft.id)

    assert (invoice.status, invoice.amount_due, invoice.amount_remaining, invoice.currency) == (
        "open",
        8600,
        8600,
        "usd",
    )
    assert invoice.number and invoice.metadata.to_dict() == {"order": "42"}
    lines = [(line.amount, line.quantity, line.price.id if line.price else None) for line in invoice.lines.data]
    assert lines == [(5000, 1, None), (3600, 3, hours.id)]
    page = requests.get(invoice.hosted_invoice_url, timeout=10)  # no API key: a customer's browser
    assert page.status_code == 200 and 'id="pay"' in page.text and "8600" in page.text
    assert "Thanks for your business" in page.text and invoice.number in page.text

    paid = requests.post(f"{invoice.hosted_invoice_url}/pay", timeout=10, allow_redirects=False)

    assert paid.status_code == 303
    invoice = client.v1.invoices.retrieve(invoice.id)
    assert (invoice.status, invoice.amount_paid, invoice.amount_remaining) == ("paid", 8600, 0)
    assert invoice.status_transitions.paid_at is not None
    charge = client.v1.charges.retrieve(invoice.charge if isinstance(invoice.charge, str) else invoice.charge.id)
    assert (charge.amount, charge.invoice, charge.customer) == (8600, invoice.id, customer.id)
    assert 'id="pay"' not in requests.get(invoice.hosted_invoice_url, timeout=10).text


def test_pending_items_go_on_an_invoice_only_when_it_includes_them(client):
    customer = _customer(client)
    item = client.v1.invoice_items.create(
        {"customer": customer.id, "unit_amount": 250, "currency": "EUR", "quantity": 4}
    )
    assert (item.amount, item.quantity, item.currency, item.invoice) == (1000, 4, "eur", None)

    excluded = client.v1.invoices.create(
        {"customer": customer.id, "collection_method": "send_invoice", "due_date": int(time.time()) + DAY}
    )
    included = client.v1.invoices.create(
        {"customer": customer.id, "pending_invoice_items_behavior": "include", "collection_method": "send_invoice",
         "days_until_due": 7}
    )  # fmt: skip

    assert excluded.lines.data == [] and excluded.amount_due == 0
    assert ([line.amount for line in included.lines.data], included.currency) == ([1000], "eur")
    assert client.v1.invoice_items.retrieve(item.id).invoice == included.id


def test_invoice_refusals_say_what_is_wrong(client):
    customer = _customer(client)
    recurring = client.v1.prices.create(
        {"currency": "usd", "unit_amount": 900, "product_data": {"name": "Pro"}, "recurring": {"interval": "month"}}
    )
    refusals = {
        "days_until_due": {"customer": customer.id, "collection_method": "send_invoice"},
        "due_date": {"customer": customer.id, "collection_method": "send_invoice", "due_date": int(time.time()) - 60},
        "collection_method": {"customer": customer.id, "collection_method": "by_pigeon"},
    }
    for param, params in refusals.items():
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.invoices.create(params)
        assert (refused.value.http_status, refused.value.param) == (400, param)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.invoices.create({"customer": "cus_missing", "collection_method": "send_invoice", "days_until_due": 1})
    assert missing.value.http_status == 404

    invoice = _payment_link(client, customer.id)
    with pytest.raises(stripe.InvalidRequestError) as other_currency:
        client.v1.invoice_items.create({"customer": customer.id, "invoice": invoice.id, "amount": 1, "currency": "eur"})
    assert other_currency.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as not_one_time:
        client.v1.invoice_items.create({"customer": customer.id, "invoice": invoice.id, "price": recurring.id})
    assert not_one_time.value.param == "price"

    client.v1.invoices.finalize_invoice(invoice.id)
    with pytest.raises(stripe.InvalidRequestError) as refinalized:
        client.v1.invoices.finalize_invoice(invoice.id)
    assert refinalized.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as finalized:
        client.v1.invoice_items.create({"customer": customer.id, "invoice": invoice.id, "amount": 1, "currency": "usd"})
    assert (finalized.value.code, finalized.value.param) == ("invoice_not_editable", "invoice")


def test_void_an_open_invoice_but_not_a_paid_one(client):
    customer = _customer(client)
    open_one = client.v1.invoices.finalize_invoice(_payment_link(client, customer.id).id)
    paid_one = client.v1.invoices.pay(client.v1.invoices.finalize_invoice(_payment_link(client, customer.id).id).id)
    assert paid_one.status == "paid"

    voided = client.v1.invoices.void_invoice(open_one.id)

    assert (voided.status, voided.amount_remaining) == ("void", 5000)
    assert voided.status_transitions.voided_at is not None
    for invoice_id in (paid_one.id, open_one.id):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.invoices.void_invoice(invoice_id)
        assert refused.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(open_one.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(paid_one.id)

    assert [i.id for i in client.v1.invoices.list({"status": "void"}).data] == [open_one.id]
    assert [i.id for i in client.v1.invoices.list({"status": "paid", "customer": customer.id}).data] == [paid_one.id]
    assert client.v1.invoices.list({"status": "open"}).data == []


def test_paying_with_a_declined_card_leaves_the_invoice_open(client):
    customer = _customer(client, with_card=False)
    declined = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer.id})
    invoice = client.v1.invoices.finalize_invoice(_payment_link(client, customer.id).id)

    with pytest.raises(stripe.InvalidRequestError) as no_card:
        client.v1.invoices.pay(invoice.id)
    assert "no attached payment source" in no_card.value.user_message
    with pytest.raises(stripe.CardError) as card_error:
        client.v1.invoices.pay(invoice.id, {"payment_method": declined.id})
    assert (card_error.value.http_status, card_error.value.code) == (402, "card_declined")
    assert client.v1.invoices.retrieve(invoice.id).status == "open"

    out_of_band = client.v1.invoices.pay(invoice.id, {"paid_out_of_band": True})
    assert (out_of_band.status, out_of_band.paid_out_of_band) == ("paid", True)


def test_invoice_events_are_delivered(client, webhooks):
    customer = _customer(client)
    voided = client.v1.invoices.void_invoice(
        client.v1.invoices.finalize_invoice(_payment_link(client, customer.id).id).id
    )
    paid = client.v1.invoices.pay(_payment_link(client, customer.id).id)  # a draft is finalized, then paid

    for event_type, invoice in (
        ("invoice.created", voided),
        ("invoice.finalized", voided),
        ("invoice.voided", voided),
        ("invoice.finalized", paid),
        ("invoice.paid", paid),
        ("invoice.payment_succeeded", paid),
    ):
        assert webhooks.wait_for(event_type, invoice.id).data.object.id == invoice.id
    assert webhooks.wait_for("invoice.paid", paid.id).data.object.status == "paid"


# --- payments ---------------------------------------------------------------------------------------------------


def test_charges_in_three_currencies_are_refunded_within_what_is_left(client):
    for currency in ("eur", "gbp", "usd"):
        charge_id = _charge(client, 2000, currency)
        refund = client.v1.refunds.create({"charge": charge_id, "amount": 500})
        charge = client.v1.charges.retrieve(charge_id)
        assert (charge.currency, charge.amount_refunded, refund.currency) == (currency, 500, currency)
        balance = client.v1.balance_transactions.list({"source": refund.id}).data
        assert [(txn.amount, txn.currency, txn.type) for txn in balance] == [(-500, currency, "refund")]


def test_declined_cards_and_tokens_answer_stripes_card_error(client):
    with pytest.raises(stripe.CardError) as by_intent:
        client.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": True}
        )
    error = by_intent.value.json_body["error"]
    assert (by_intent.value.http_status, error["type"], error["code"]) == (402, "card_error", "card_declined")
    assert error["decline_code"] == "generic_decline" and error["message"] == "Your card was declined."
    assert client.v1.charges.retrieve(error["charge"]).status == "failed"

    with pytest.raises(stripe.CardError) as by_token:
        client.v1.charges.create({"amount": 1000, "currency": "usd", "source": "tok_chargeDeclinedInsufficientFunds"})
    assert by_token.value.json_body["error"]["decline_code"] == "insufficient_funds"

    assert client.v1.charges.create({"amount": 700, "currency": "gbp", "source": "tok_visa"}).status == "succeeded"

    customer = client.v1.customers.create({"email": "declined@example.com"})
    with pytest.raises(stripe.CardError) as on_attach:  # Stripe checks a card when it is attached
        client.v1.payment_methods.attach("pm_card_chargeDeclined", {"customer": customer.id})
    assert (on_attach.value.http_status, on_attach.value.code) == (402, "card_declined")


def test_payment_methods_attach_detach_and_default(client):
    customer = _customer(client, with_card=False)
    first = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    second = client.v1.payment_methods.attach("pm_card_mastercard", {"customer": customer.id})
    assert second.card.brand == "mastercard"

    updated = client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": second.id}})
    assert updated.invoice_settings.default_payment_method == second.id
    assert client.v1.payment_methods.detach(first.id).customer is None
    listed = client.v1.payment_methods.list({"customer": customer.id, "type": "card"}).data
    assert [method.id for method in listed] == [second.id]


def test_subscription_on_a_price_cancels_at_period_end(client):
    customer = _customer(client)
    price = client.v1.prices.create(
        {
            "currency": "eur",
            "unit_amount": 1900,
            "product_data": {"name": "Starter"},
            "recurring": {"interval": "month"},
        }
    )
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})
    assert subscription.status == "active"
    invoice = client.v1.invoices.retrieve(subscription.latest_invoice)
    assert (invoice.status, invoice.billing_reason) == ("paid", "subscription_create")
    assert invoice.number and invoice.hosted_invoice_url

    canceling = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert (canceling.cancel_at_period_end, canceling.status) == (True, "active")


# --- payouts ----------------------------------------------------------------------------------------------------


def test_payout_sweeps_the_balance_and_lists_its_transactions_page_by_page(client, stripe_server):
    charges = [_charge(client, 1000 * (n + 1)) for n in range(4)]  # 1000 + 2000 + 3000 + 4000
    client.v1.refunds.create({"charge": charges[0], "amount": 400})
    _charge(client, 9900, "eur")  # another currency: not in a usd payout

    payout = client.v1.payouts.retrieve(stripe_server.create_payout(currency="usd", status="paid")["id"])

    assert (payout.amount, payout.currency, payout.status, payout.automatic) == (9600, "usd", "paid", True)
    assert payout.arrival_date > payout.created
    own = client.v1.balance_transactions.retrieve(payout.balance_transaction)
    assert (own.type, own.amount, own.source) == ("payout", -9600, payout.id)
    seen, after = [], None
    while True:
        page = client.v1.balance_transactions.list(
            {"payout": payout.id, "limit": 2, **({"starting_after": after} if after else {})}
        )
        seen.extend(page.data)
        if not page.has_more:
            break
        after = page.data[-1].id
    assert len(seen) == 6 and len({txn.id for txn in seen}) == 6
    assert sorted(txn.type for txn in seen) == ["charge"] * 4 + ["payout", "refund"]
    assert sum(txn.net for txn in seen if txn.type != "payout") == 9600
    assert [p.id for p in client.v1.payouts.list().data] == [payout.id]

    with pytest.raises(ControlError, match="Nothing to pay out"):
        stripe_server.create_payout(currency="usd")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.balance_transactions.list({"payout": "po_missing"})
    assert missing.value.http_status == 404


def test_payouts_of_given_charges_in_each_status(client, stripe_server):
    charges = [_charge(client, 1000) for _ in range(5)]
    made = {
        status: stripe_server.create_payout(status=status, charges=[charge])
        for status, charge in zip(("paid", "pending", "in_transit", "failed", "canceled"), charges, strict=True)
    }
    assert {status: payout["amount"] for status, payout in made.items()} == dict.fromkeys(made, 1000)

    failed = client.v1.payouts.retrieve(made["failed"]["id"])
    assert (failed.status, failed.failure_code) == ("failed", "account_closed")
    returned = client.v1.balance_transactions.retrieve(failed.failure_balance_transaction)
    assert (returned.type, returned.amount) == ("payout_failure", 1000)
    assert [p.id for p in client.v1.payouts.list({"status": "pending"}).data] == [made["pending"]["id"]]

    moved = stripe_server.move_payout(made["in_transit"]["id"], "paid")
    assert moved["status"] == "paid"
    with pytest.raises(ControlError, match="already paid"):
        stripe_server.move_payout(made["paid"]["id"], "failed")
    listed = client.v1.payouts.list({"limit": 100}).data
    assert {p.id for p in listed} == {p["id"] for p in made.values()}
    assert [p.created for p in listed] == sorted((p.created for p in listed), reverse=True)


# --- disputes ---------------------------------------------------------------------------------------------------


def test_dispute_marks_the_charge_and_is_listed_with_its_events(client, stripe_server, webhooks):
    disputed, lost, quiet = (_charge(client, 3000, "eur") for _ in range(3))

    opened = stripe_server.open_dispute(disputed, amount=2500, reason="product_not_received")
    closed_lost = stripe_server.open_dispute(lost, status="lost")

    dispute = client.v1.disputes.retrieve(opened["id"])
    assert (dispute.amount, dispute.currency, dispute.reason, dispute.status) == (
        2500,
        "eur",
        "product_not_received",
        "needs_response",
    )
    assert dispute.charge == disputed and dispute.evidence_details.due_by > dispute.created
    assert [txn.amount for txn in dispute.balance_transactions] == [-2500]
    assert client.v1.charges.retrieve(disputed).disputed is True
    assert client.v1.charges.retrieve(quiet).disputed is False
    assert {d.id for d in client.v1.disputes.list().data} == {opened["id"], closed_lost["id"]}
    assert [d.id for d in client.v1.disputes.list({"charge": lost}).data] == [closed_lost["id"]]
    assert closed_lost["status"] == "lost" and closed_lost["amount"] == 3000

    won = stripe_server.close_dispute(opened["id"], "won")
    assert [txn["amount"] for txn in won["balance_transactions"]] == [-2500, 2500]
    with pytest.raises(ControlError, match="already has a dispute"):
        stripe_server.open_dispute(disputed)
    assert webhooks.wait_for("charge.dispute.created", opened["id"]).data.object.charge == disputed
    assert webhooks.wait_for("charge.dispute.closed", opened["id"]).data.object.status == "won"
    assert webhooks.wait_for("charge.dispute.closed", closed_lost["id"]).data.object.status == "lost"


def test_a_connected_accounts_dispute_and_payout_are_its_own(stripe_api_base, stripe_server):
    connected = stripe_sdk_client(stripe_api_base, stripe_account="acct_1Connected")
    platform = stripe_sdk_client(stripe_api_base)
    charge = _charge(connected, 1500)

    payout = stripe_server.create_payout(stripe_account="acct_1Connected")
    dispute = stripe_server.open_dispute(charge)  # as the charge's owner, without naming it

    assert [d.id for d in connected.v1.disputes.list().data] == [dispute["id"]]
    assert [p.id for p in connected.v1.payouts.list().data] == [payout["id"]]
    assert payout["amount"] == 1500
    assert platform.v1.disputes.list().data == [] and platform.v1.payouts.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        platform.v1.disputes.retrieve(dispute["id"])


# --- backdating -------------------------------------------------------------------------------------------------


def test_backdating_a_charge_moves_its_balance_transaction(client, stripe_server):
    charge_id = _charge(client, 1200)
    refund = client.v1.refunds.create({"charge": charge_id, "amount": 200})
    past = int(time.time()) - 40 * DAY

    stripe_server.backdate(charge_id, past)
    stripe_server.backdate(refund.id, past + DAY)

    charge = client.v1.charges.retrieve(charge_id)
    assert charge.created == past
    assert client.v1.balance_transactions.retrieve(charge.balance_transaction).created == past
    assert client.v1.refunds.retrieve(refund.id).created == past + DAY
    with pytest.raises(ControlError, match="Unix timestamp"):
        stripe_server.backdate(charge_id, 12)
