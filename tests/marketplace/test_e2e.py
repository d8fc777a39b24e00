"""The whole path against the local Stripe, as in production: a sub-account saves a card and buys a one-off add-on
with a setup fee through the API; the local Stripe signs and posts its events to our app (a live server); a real
Celery worker (Redis) processes them, the marketplace's listener fulfils the purchase, and the follow-up task,
sent by name after commit, runs on that worker once. localstripe delivers about a second after a change: every
wait polls with a deadline."""

import pytest

from billing.models import WebhookEvent
from marketplace.models import Balance, Purchase
from tests.helpers.celery_worker import celery_worker
from tests.helpers.polling import wait_until
from tests.helpers.webhooks import ACCOUNT_SECRET, account_url
from tests.marketplace.conftest import create_price, create_product, save_card

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def delivered_to_us(agency, live_server, stripe_server, redis_url):
    stripe_server.register_webhook("agency", live_server.url + account_url(agency), ACCOUNT_SECRET)
    with celery_worker(redis_url):
        yield


def test_a_purchase_is_fulfilled_by_the_delivered_webhook_and_provisioned_once_by_a_real_worker(
    agency, agency_api, sub_api, stripe, delivered_to_us
):
    price = create_price(agency_api, create_product(agency_api)["id"], unit_amount=1500, setup_fee=2500)
    save_card(sub_api, stripe)

    response = sub_api.post(
        "/api/v1/billing/store/purchases/",
        {"price_id": price["id"], "purchase_request_id": "e2e-purchase-0001"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["total_amount"]) == ("pending", 4000)

    purchase = wait_until(
        lambda: Purchase.objects.filter(pk=body["id"], provision_runs__gte=1).first(),
        message="the purchase to be fulfilled and provisioned",
    )
    assert purchase.status == Purchase.Status.FULFILLED
    event = WebhookEvent.objects.get(type="payment_intent.succeeded", object_id=body["payment_intent_id"])
    assert (event.account_id, event.status) == (agency.pk, WebhookEvent.Status.PROCESSED)
    assert stripe.get(f"/v1/payment_intents/{body['payment_intent_id']}")["amount"] == 4000
    # The same request id again answers the same purchase, charged once.
    again = sub_api.post(
        "/api/v1/billing/store/purchases/",
        {"price_id": price["id"], "purchase_request_id": "e2e-purchase-0001"},
        format="json",
    )
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    assert len(stripe.list_all("/v1/payment_intents")) == 1
    assert Purchase.objects.get(pk=body["id"]).provision_runs == 1
    assert not Balance.objects.exists()
