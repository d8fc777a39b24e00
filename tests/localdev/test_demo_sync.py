"""The development stack's demo account gets its initial sync queued by `localdev.seed_demo` (run here eagerly)."""

import pytest

from billing.models import Customer, StripeConnection, SyncRun
from localdev import demo
from localdev.seed_demo import seed_demo

pytestmark = pytest.mark.django_db(transaction=True)


def test_seed_demo_syncs_the_demo_account(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    seed_demo(out=lambda line: None)

    connection = StripeConnection.objects.get(account__name=demo.DEMO_ACCOUNT_NAME)
    assert (connection.status, connection.initialized) == ("ready", True)
    assert Customer.objects.filter(account=connection.account).count() == demo.CUSTOMERS
    assert SyncRun.objects.get(account=connection.account).kind == "initial"

    seed_demo(out=lambda line: None)  # again: already synced, nothing queued
    assert SyncRun.objects.filter(account=connection.account).count() == 1
