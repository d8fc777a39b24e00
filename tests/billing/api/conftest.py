"""Fixtures of the SPA's billing API tests: an account connected to the local Stripe, its admin's and a
member's clients, and another account with its own data."""

import pytest
from rest_framework.test import APIClient

from tests.billing.stripe_seed import Stripe
from tests.conftest import PASSWORD, token_for
from tests.factories import AccountFactory, MembershipFactory, UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.webhooks import connect


@pytest.fixture
def stripe(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0  # every injected fault reaches our code, no SDK sleeps
    return Stripe(stripe_api_base)


@pytest.fixture
def live(account, stripe):
    """`account` connected to the local Stripe with the harness key."""
    connect(account, secret_key=TEST_SECRET_KEY)
    return account


@pytest.fixture
def member_api(account):
    """A client of a plain member (no owner or admin role) of `account`."""
    user = UserFactory(password=PASSWORD)
    MembershipFactory(user=user, account=account, role="member")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    return client


@pytest.fixture
def other_account(db):
    return AccountFactory()
