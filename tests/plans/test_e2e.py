"""End to end against the local Stripe, through the platform webhook endpoint (pytest-django's live server) and a
real Celery worker: checkout → completion → the account is on the plan, active, told on the websocket; change,
cancel and resume reach Stripe and come back through webhooks; a failed renewal makes it past due, a paid one
active again; deletion puts it back on the default plan.

localstripe delivers about a second after a change, so every wait polls with a deadline. Websocket delivery is
recorded at `accounts.notifications.send_now` (the channel layer is the websocket tests' business)."""

import pytest
from rest_framework.test import APIClient

from billing.models import WebhookEvent
from plans.models import AccountSubscription
from plans.services.catalog import plan_create
from tests.billing.stripe_seed import Stripe
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.celery_worker import celery_worker
from tests.helpers.notifications import record_notifications
from tests.helpers.polling import wait_until
from tests.helpers.webhooks import PLATFORM_SECRET, PLATFORM_URL

pytestmark = pytest.mark.django_db(transaction=True)
SUBSCRIPTION_URL = "/api/v1/account/subscription/"


@pytest.fixture
def platform(settings, live_server, stripe_server, stripe_api_base, redis_url):
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_server.register_webhook("platform", live_server.url + PLATFORM_URL, PLATFORM_SECRET)
    with celery_worker(redis_url):
        yield Stripe(stripe_api_base)


def on(account, condition, what):
    def find():
        row = AccountSubscription.objects.select_related("plan").get(account=account)
        return row if condition(row) else None

    return wait_until(find, message=what, timeout=30)


def test_checkout_change_cancel_and_dunning_through_the_platforms_webhooks(
    account, api: APIClient, platform, stripe_server, monkeypatch
):
    sent = record_notifications(monkeypatch)
    month = [{"interval": "month", "amount": 2900, "currency": "usd"}]
    plan_create(slug="pro", name="Pro", weekly_quota=10_000, prices=month)
    plan_create(slug="team", name="Team", weekly_quota=50_000, prices=[{**month[0], "amount": 9900}])

    # Checkout, then the customer pays on Stripe's page.
    session = api.post(f"{SUBSCRIPTION_URL}checkout/", {"plan": "pro"}, format="json").json()
    stripe_server.complete_checkout(session["session_id"])
    subscribed = on(account, lambda r: r.plan.slug == "pro" and r.status == "active", "the account on pro")
    assert subscribed.stripe_subscription_id and subscribed.current_period_end is not None
    wait_until(lambda: sent.of("subscription_updated"), message="subscription_updated")
    assert sent.of("subscription_updated")[0]["plan"]["slug"] == "pro"
    # Both ways in were delivered and processed: the session (whose task retrieved the subscription) and the
    # subscription's and invoice's own events.
    for event_type in ("checkout.session.completed", "customer.subscription.created", "invoice.paid"):
        wait_until(
            lambda t=event_type: WebhookEvent.objects.filter(
                relationship="platform", type=t, status=WebhookEvent.Status.PROCESSED
            ).exists(),
            message=f"{event_type} processed",
            timeout=30,
        )

    # Change: Stripe prorates; the plan moves when its webhook arrives.
    response = api.post(f"{SUBSCRIPTION_URL}change/", {"plan": "team"}, format="json")
    assert response.status_code == 202, response.content
    on(account, lambda r: r.plan.slug == "team", "the account on team")
    live = platform.get(f"/v1/subscriptions/{subscribed.stripe_subscription_id}")
    assert live["items"]["data"][0]["price"]["unit_amount"] == 9900
    wait_until(lambda: len(sent.of("subscription_updated")) >= 2, message="a second subscription_updated")

    # Cancel at period end, then resume.
    assert api.post(f"{SUBSCRIPTION_URL}cancel/").status_code == 202
    on(account, lambda r: r.cancel_at_period_end, "cancel at period end")
    assert api.post(f"{SUBSCRIPTION_URL}resume/").status_code == 202
    on(account, lambda r: not r.cancel_at_period_end, "resumed")

    # A renewal that fails, then one that is paid.
    stripe_server.renew_subscription(subscribed.stripe_subscription_id, fail=True)
    past_due = on(account, lambda r: r.status == "past_due" and r.past_due_since, "past due")
    stripe_server.renew_subscription(subscribed.stripe_subscription_id)
    active = on(account, lambda r: r.status == "active" and r.past_due_since is None, "active again")
    assert past_due.past_due_since is not None and active.plan.slug == "team"

    invoices = api.get(f"{SUBSCRIPTION_URL}invoices/").json()["results"]
    assert len(invoices) >= 3 and all(invoice["hosted_invoice_url"] for invoice in invoices)

    # Stripe ends the subscription: back on the default plan.
    platform.delete(f"/v1/subscriptions/{subscribed.stripe_subscription_id}")
    on(account, lambda r: r.plan.slug == "free" and r.stripe_subscription_id == "", "back on free")
    assert (
        not WebhookEvent.objects.filter(relationship="platform")
        .exclude(status__in=(WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED))
        .exists()
    )
