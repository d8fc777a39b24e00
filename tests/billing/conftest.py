"""Fixtures shared by the billing tests."""

import pytest

from tests.helpers.webhooks import connect


@pytest.fixture
def connected(account):
    """An account with a Stripe connection and a webhook signing secret (tests/helpers/webhooks.py)."""
    connect(account)
    return account
