"""Purchases against the local Stripe (SPEC §5, issue 14): a one-off add-on with a setup fee charged as two lines
and fulfilled once by Stripe's webhook, with its follow-up task run once; a recurring add-on as a subscription;
a declined card; who may see what."""

import pytest

from marketplace.models import Purchase, StoreCustomer
from tests.helpers.stripe_signing import make_event
from tests.marketplace.conftest import create_price, create_product, deliver, save_card, stripe_events

pytestmark = pytest.mark.django_db
URL = "/api/v1/billing/store/purchases/"


@pytest.fixture
def addon(agency_api):
    product = create_product(agency_api, name="Local phone number")
    return create_price(agency_api, product["id"], unit_amount=1500, setup_fee=2500)


def buy(client, price_id: str, request_id: str = "purchase-0001", **extra):
    return client.post(URL, {"price_id": price_id, "purchase_request_id": request_id, **extra}, format="json")


def test_a_one_off_addon_with_a_setup_fee_charges_both_lines_and_is_fulfilled_once_by_the_webhook(
    agency, sub, sub_api, addon, stripe, django_capture_on_commit_callbacks
):
    save_card(sub_api, stripe)

    response = buy(sub_api, addon["id"], quantity=2)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"  # only Stripe's webhook fulfils it
    assert body["lines"] == [
        {"kind": "add_on", "amount": 3000, "quantity": 2},
        {"kind": "setup_fee", "amount": 2500, "quantity": 1},
    ]
    intent = stripe.get(f"/v1/payment_intents/{body['payment_intent_id']}")
    assert intent["amount"] == 3000 + 2500
    assert intent["customer"] == StoreCustomer.objects.get(sub_account=sub).stripe_customer_id
    assert (intent["metadata"]["addon_amount"], intent["metadata"]["setup_fee_amount"]) == ("3000", "2500")

    [event] = stripe_events(stripe, types=("payment_intent.succeeded",), object_id=intent["id"])
    deliver(agency, event, django_capture_on_commit_callbacks)
    # Stripe may deliver the same change again under another event id: nothing happens twice.
    deliver(agency, {**event, "id": event["id"] + "_again"}, django_capture_on_commit_callbacks)

    purchase = Purchase.objects.get(pk=body["id"])
    assert purchase.status == Purchase.Status.FULFILLED
    assert purchase.fulfilled_at is not None
    assert purchase.provision_runs == 1  # the follow-up task ran (eagerly, after commit) exactly once
    assert purchase.provisioned_at is not None


def test_a_recurring_addon_creates_a_subscription_with_the_setup_fee_on_its_first_invoice(
    agency, sub, sub_api, agency_api, stripe, django_capture_on_commit_callbacks
):
    product = create_product(agency_api, name="Reviews widget")
    price = create_price(agency_api, product["id"], unit_amount=900, recurring={"interval": "month"}, setup_fee=1900)
    save_card(sub_api, stripe)

    response = buy(sub_api, price["id"], request_id="purchase-recurring-1")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"]) == ("recurring", "pending")
    subscription = stripe.get(f"/v1/subscriptions/{body['subscription_id']}")
    assert subscription["customer"] == StoreCustomer.objects.get(sub_account=sub).stripe_customer_id
    assert subscription["items"]["data"][0]["price"]["id"] == price["id"]
    invoice = stripe.get(f"/v1/invoices/{subscription['latest_invoice']}")
    assert sorted(line["amount"] for line in invoice["lines"]["data"]) == [900, 1900]
    assert invoice["amount_paid"] == 2800

    [paid] = stripe_events(stripe, types=("invoice.paid",), object_id=invoice["id"])
    deliver(agency, paid, django_capture_on_commit_callbacks)
    purchase = Purchase.objects.get(pk=body["id"])
    assert (purchase.status, purchase.provision_runs) == (Purchase.Status.FULFILLED, 1)


def test_a_declined_card_leaves_the_purchase_failed_with_stripes_reason(
    agency, sub, sub_api, addon, stripe, django_capture_on_commit_callbacks
):
    save_card(sub_api, stripe, "pm_card_chargeCustomerFail")

    response = buy(sub_api, addon["id"])

    assert response.status_code == 402, response.content
    error = response.json()["error"]
    assert error["code"] == "card_declined"
    assert "declined" in error["message"]
    purchase = Purchase.objects.get(pk=error["details"]["purchase_id"])
    assert purchase.status == Purchase.Status.FAILED
    assert purchase.failure_code == "card_declined"
    assert "Your card was declined." in purchase.failure_message
    # Stripe's payment_failed event changes nothing more, and the same request id answers the failed purchase.
    for event in stripe_events(stripe, types=("payment_intent.payment_failed",)):
        deliver(agency, event, django_capture_on_commit_callbacks)
    again = buy(sub_api, addon["id"])
    assert (again.status_code, again.json()["status"], again.json()["id"]) == (200, "failed", str(purchase.pk))
    assert Purchase.objects.get(pk=purchase.pk).provision_runs == 0


def test_a_refund_of_the_charge_marks_the_purchase(agency, sub_api, addon, stripe, django_capture_on_commit_callbacks):
    save_card(sub_api, stripe)
    body = buy(sub_api, addon["id"]).json()
    [paid] = stripe_events(stripe, types=("payment_intent.succeeded",), object_id=body["payment_intent_id"])
    deliver(agency, paid, django_capture_on_commit_callbacks)
    charge_id = Purchase.objects.get(pk=body["id"]).charge_id

    stripe.post("/v1/refunds", charge=charge_id, amount=1000)
    partial = make_event("charge.refunded", stripe.get(f"/v1/charges/{charge_id}"))
    deliver(agency, partial, django_capture_on_commit_callbacks)
    purchase = Purchase.objects.get(pk=body["id"])
    assert (purchase.status, purchase.refunded_amount) == (Purchase.Status.FULFILLED, 1000)

    stripe.post("/v1/refunds", charge=charge_id)
    full = make_event("charge.refunded", stripe.get(f"/v1/charges/{charge_id}"))
    deliver(agency, full, django_capture_on_commit_callbacks)
    deliver(agency, partial | {"id": partial["id"] + "_late"}, django_capture_on_commit_callbacks)  # older: no-op
    purchase = Purchase.objects.get(pk=body["id"])
    assert (purchase.status, purchase.refunded_amount) == (Purchase.Status.REFUNDED, 4000)
    assert purchase.provision_runs == 1


def test_a_payment_intent_that_is_not_the_marketplaces_is_left_to_the_mirror(
    agency, sub_api, addon, stripe, django_capture_on_commit_callbacks
):
    save_card(sub_api, stripe)
    purchase_id = buy(sub_api, addon["id"]).json()["id"]
    foreign = make_event(
        "payment_intent.succeeded",
        {"id": "pi_foreign", "object": "payment_intent", "amount": 100, "currency": "usd", "metadata": {}},
    )
    row = deliver(agency, foreign, django_capture_on_commit_callbacks)

    assert row.status == "processed"
    assert Purchase.objects.get(pk=purchase_id).status == Purchase.Status.PENDING


def test_the_same_request_id_for_another_price_is_refused(sub_api, addon, agency_api, stripe):
    save_card(sub_api, stripe)
    other = create_price(agency_api, addon["product"], unit_amount=300)
    assert buy(sub_api, addon["id"], request_id="reused-id-0001").status_code == 201

    response = buy(sub_api, other["id"], request_id="reused-id-0001")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "purchase_request_id_reused")


def test_stripe_unreachable_fails_the_purchase_and_the_same_id_retries_it_charging_once(
    sub_api, addon, stripe, stripe_server
):
    save_card(sub_api, stripe)
    stripe_server.fail_next("/v1/payment_intents", 503, method="POST")

    first = buy(sub_api, addon["id"], request_id="retry-after-502")
    assert first.status_code == 502, first.content
    purchase = Purchase.objects.get(purchase_request_id="retry-after-502")
    assert (purchase.status, purchase.failure_code) == (Purchase.Status.FAILED, "stripe_unavailable")

    again = buy(sub_api, addon["id"], request_id="retry-after-502")
    assert again.status_code == 201, again.content
    assert (again.json()["id"], again.json()["status"]) == (str(purchase.pk), "pending")
    assert len(stripe.list_all("/v1/payment_intents")) == 1


def test_a_claim_abandoned_by_a_dead_request_is_taken_over_after_a_while(sub, sub_api, addon, stripe):
    from datetime import timedelta

    from django.utils import timezone

    from marketplace.models import StorePrice

    save_card(sub_api, stripe)
    price = StorePrice.objects.get(stripe_id=addon["id"])
    Purchase.objects.create(
        buyer=sub,
        agency=sub.parent,
        price=price,
        purchase_request_id="died-midway",
        kind="one_off",
        currency="usd",
        amount=1500,
        setup_fee_amount=2500,
    )
    assert buy(sub_api, addon["id"], request_id="died-midway").status_code == 409  # still in flight, maybe

    Purchase.objects.filter(purchase_request_id="died-midway").update(updated_at=timezone.now() - timedelta(hours=1))
    response = buy(sub_api, addon["id"], request_id="died-midway")
    assert response.status_code == 201, response.content
    assert response.json()["payment_intent_id"]


def test_a_fulfilled_purchase_whose_provisioning_message_was_lost_is_provisioned_once_by_the_sweep(
    sub, addon, settings, django_capture_on_commit_callbacks
):
    """The provisioning message lives only in Redis: a Redis lost before a worker took it must not leave a paid
    purchase unprovisioned (marketplace/services/fulfilment.py, beat `marketplace: requeue provisioning`)."""
    from datetime import timedelta

    from django.utils import timezone

    from billing_project.celery import app
    from marketplace.models import StorePrice
    from marketplace.services.fulfilment import purchase_provision

    app.loader.import_default_modules()
    settings.MARKETPLACE_PROVISION_GRACE_SECONDS = 300
    price = StorePrice.objects.get(stripe_id=addon["id"])
    now = timezone.now()

    def fulfilled(request_id, minutes_ago):
        return Purchase.objects.create(
            buyer=sub,
            agency=sub.parent,
            price=price,
            purchase_request_id=request_id,
            kind="one_off",
            currency="usd",
            amount=1500,
            status=Purchase.Status.FULFILLED,
            fulfilled_at=now - timedelta(minutes=minutes_ago),
        )

    lost, recent = fulfilled("lost-message", 10), fulfilled("message-on-its-way", 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert app.tasks["marketplace.requeue_provisioning"].apply().get() == 1
    lost.refresh_from_db()
    assert (lost.provision_runs, lost.provisioned_at is not None) == (1, True)
    assert Purchase.objects.get(pk=recent.pk).provision_runs == 0  # its own message may still come

    # The original message arriving late, and the next sweep: nothing runs twice.
    assert purchase_provision(purchase_id=str(lost.pk)) is False
    with django_capture_on_commit_callbacks(execute=True):
        assert app.tasks["marketplace.requeue_provisioning"].apply().get() == 0
    assert Purchase.objects.get(pk=lost.pk).provision_runs == 1
