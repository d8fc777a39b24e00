"""Fixtures of the marketplace tests: an agency connected to the local Stripe, its sub-accounts and their
clients, saving a card the way Stripe.js would (confirming the SetupIntent), and delivering the agency's real
Stripe events (read back from the local Stripe's `/v1/events`) to its webhook endpoint, processed in place.

After every test that touched the database, the ledger check (`manage.py check_balances`) must pass."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from billing.models import WebhookEvent
from marketplace.models import ExchangeRate
from tests.billing.stripe_seed import Stripe
from tests.conftest import PASSWORD, token_for
from tests.factories import AccountFactory, MembershipFactory, UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.webhooks import ACCOUNT_SECRET, account_url, connect, post_event


@pytest.fixture(autouse=True)
def _ledger_check_after_each_test(request):
    """The database fixture is asked for first, so this check runs before the test's data is rolled back or
    flushed."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    yield
    call_command("check_balances")  # raises CommandError (fails the test) on any difference


@pytest.fixture
def stripe(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


def client_for(account, role: str = "owner") -> APIClient:
    user = UserFactory(password=PASSWORD)
    MembershipFactory(user=user, account=account, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    client.user = user
    return client


@pytest.fixture
def agency(db, stripe):
    account = AccountFactory(name="Agency")
    connect(account, secret_key=TEST_SECRET_KEY)
    return account


@pytest.fixture
def agency_api(agency):
    return client_for(agency)


@pytest.fixture
def sub(agency):
    return AccountFactory(name="Client A", parent=agency)


@pytest.fixture
def sub_api(sub):
    return client_for(sub)


@pytest.fixture
def other_sub(agency):
    return AccountFactory(name="Client B", parent=agency)


@pytest.fixture
def other_sub_api(other_sub):
    return client_for(other_sub)


@pytest.fixture
def eur_rate(db):
    return ExchangeRate.objects.create(currency="eur", rate="1.0850000000", source="test")


def create_product(agency_api, name="Phone number", **extra) -> dict:
    response = agency_api.post("/api/v1/billing/store/products/", {"name": name, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def create_price(agency_api, product_id: str, **fields) -> dict:
    body = {"product": product_id, "currency": "usd", "unit_amount": 1500, **fields}
    response = agency_api.post("/api/v1/billing/store/prices/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def save_card(client, stripe: Stripe, payment_method: str = "pm_card_visa") -> str:
    """What the SPA does: ask for a SetupIntent, confirm it with the card (Stripe.js's confirmCardSetup)."""
    response = client.post("/api/v1/billing/store/payment-methods/setup/", format="json")
    assert response.status_code == 201, response.content
    intent = response.json()
    method = stripe.post(
        "/v1/payment_methods",
        type="card",
        card={"number": _NUMBERS[payment_method], "exp_month": 12, "exp_year": 2034, "cvc": "123"},
    )
    confirmed = stripe.post(f"/v1/setup_intents/{intent['id']}/confirm", payment_method=method["id"])
    assert confirmed["status"] == "succeeded", confirmed
    return method["id"]


_NUMBERS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_chargeCustomerFail": "4000000000000341",  # attaches, then declines when charged
}


def stripe_events(stripe: Stripe, *, types: tuple[str, ...], object_id: str | None = None) -> list[dict]:
    """The agency's events in its Stripe, oldest first."""
    events = [
        e
        for e in stripe.list_all("/v1/events")
        if e["type"] in types and (object_id is None or e["data"]["object"].get("id") == object_id)
    ]
    return sorted(events, key=lambda e: (e["created"], e["id"]))


def deliver(agency, event: dict, capture) -> WebhookEvent:
    """Posts a signed delivery to the agency's endpoint and runs its processing (eager Celery after commit)."""
    with capture(execute=True):
        response = post_event(account_url(agency), event, ACCOUNT_SECRET)
    assert response.status_code == 200, response.content
    return WebhookEvent.objects.get(account=agency, stripe_event_id=event["id"])
