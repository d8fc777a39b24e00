"""Fixtures shared by the billing tests."""

import pytest

from tests.billing.stripe_seed import Stripe
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.webhooks import connect


@pytest.fixture
def connected(account):
    """An account with a Stripe connection and a webhook signing secret (tests/helpers/webhooks.py)."""
    connect(account)
    return account


@pytest.fixture
def stripe(stripe_api_base, settings):
    """Calls on the local Stripe as the harness's account."""
    settings.STRIPE_MAX_NETWORK_RETRIES = 0  # every injected fault reaches our code, no SDK sleeps
    return Stripe(stripe_api_base)


@pytest.fixture
def live(account, stripe):
    """`account` connected to the local Stripe with the harness key."""
    connect(account, secret_key=TEST_SECRET_KEY)
    return account
