"""Fixtures of the SPA's billing API tests: a member's client and another account with its own data (the local
Stripe's `stripe` and `live` are tests/billing/conftest.py's)."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD, token_for
from tests.factories import AccountFactory, MembershipFactory, UserFactory


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
