"""Fixtures of the contact import tests: an account connected to the local Stripe (the harness's key), Stripe
failures reaching our code at once (no SDK retries) and retried here without waiting (a base delay of 0)."""

import pytest

from tests.billing.stripe_seed import Stripe
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.webhooks import connect


@pytest.fixture
def stripe(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.CONTACTS_IMPORT_RETRY_BASE_SECONDS = 0
    return Stripe(stripe_api_base)


@pytest.fixture
def live(account, stripe):
    connect(account, secret_key=TEST_SECRET_KEY)
    return account


def seed_customers(stripe: Stripe, count: int, *, prefix: str = "customer", domain: str = "example.com", **fields):
    """`count` customers `<prefix><n>@<domain>` with a name, a phone and an address; answers them in list order
    (newest first, as Stripe lists them)."""
    made = [
        stripe.post(
            "/v1/customers",
            email=f"{prefix}{n}@{domain}",
            name=f"First{n} Last{n}",
            phone=f"+1555{n:07d}",
            address={
                "line1": f"{n} Main St",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "62701",
                "country": "US",
            },
            metadata={"tier": f"t{n % 3}"},
            **fields,
        )
        for n in range(count)
    ]
    return list(reversed(made))


@pytest.fixture
def member_api(account):
    """A client of a plain member (no owner or admin role) of `account`."""
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD, token_for
    from tests.factories import MembershipFactory, UserFactory

    user = UserFactory(password=PASSWORD)
    MembershipFactory(user=user, account=account, role="member")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    return client
