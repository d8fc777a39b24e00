"""The development stack's demo account gets its initial sync queued by `localdev.seed_demo` (run here eagerly),
and the mirror it fills has what the overview, payouts, disputes and payment links screens show."""

from datetime import timedelta

import pytest
from django.db.models import Min
from django.utils import timezone

from billing.models import (
    BalanceTransaction,
    Charge,
    Customer,
    Dispute,
    Invoice,
    Payout,
    Refund,
    StripeConnection,
    SyncRun,
)
from localdev import demo, demo_data
from localdev.seed_demo import seed_demo

pytestmark = pytest.mark.django_db(transaction=True)


def test_seed_demo_syncs_the_demo_account(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    seed_demo(out=lambda line: None)

    connection = StripeConnection.objects.get(account__name=demo.DEMO_ACCOUNT_NAME)
    account = connection.account
    assert (connection.status, connection.initialized) == ("ready", True)
    assert Customer.objects.filter(account=account).count() == demo.CUSTOMERS
    assert SyncRun.objects.get(account=account).kind == "initial"

    charges = Charge.objects.filter(account=account, status="succeeded")
    assert set(charges.values_list("currency", flat=True)) == {"usd", "eur"}
    oldest = charges.aggregate(oldest=Min("created"))["oldest"]
    assert timezone.now() - timedelta(days=demo_data.DAYS) <= oldest <= timezone.now() - timedelta(days=50)
    assert Refund.objects.filter(account=account).exists()
    assert set(Dispute.objects.filter(account=account).values_list("status", flat=True)) == {
        status for status, _ in demo_data.DISPUTES
    }
    assert charges.filter(disputed=True).count() == len(demo_data.DISPUTES)
    payouts = Payout.objects.filter(account=account)
    assert {"paid", "in_transit", "failed"} <= set(payouts.values_list("status", flat=True))
    assert set(payouts.values_list("currency", flat=True)) == {"usd", "eur"}
    for payout in payouts:
        swept = BalanceTransaction.objects.filter(account=account, payout_stripe_id=payout.stripe_id)
        assert sum(t.net for t in swept if t.type != "payout") == payout.amount
    links = Invoice.objects.filter(account=account, collection_method="send_invoice")
    assert sorted(links.values_list("status", flat=True)) == sorted(o for *_, o in demo_data.PAYMENT_LINKS)
    assert all(
        url.startswith(f"{stripe_api_base}/invoice/in_") for url in links.values_list("hosted_invoice_url", flat=True)
    )

    # The payment-links screen lists them (they were made in Stripe directly; the demo records them as the API would).
    from billing.selectors.payment_links import payment_link_list

    listed = payment_link_list(account=account)
    assert sorted(listed.values_list("stripe_id", flat=True)) == sorted(links.values_list("stripe_id", flat=True))

    seed_demo(out=lambda line: None)  # again: already synced, nothing queued
    assert SyncRun.objects.filter(account=account).count() == 1
