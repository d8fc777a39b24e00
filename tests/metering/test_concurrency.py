"""Exactly once under concurrency, on PostgreSQL with threads (each its own connection): these skip on SQLite."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from metering.models import Attribution, ExtrasBalance, LedgerEntry, Topup, UsageWeek
from metering.services.extras import extras_refund_clawback, extras_topup_from_session
from metering.services.weeks import usage_week_reset
from tests.helpers.notifications import record_notifications
from tests.helpers.threads import run_concurrently
from tests.metering.conftest import attribute, units
from tests.metering.helpers import remaining, topup

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("requires_postgres")]


def test_20_concurrent_attributions_across_80_and_100_percent_send_each_event_once_and_debit_the_overflow(
    account, pro, monkeypatch
):
    sent = record_notifications(monkeypatch)
    results = run_concurrently(lambda i: attribute(account, f"h{i}", units(10)), 20)
    assert all(r.applied for r in results)
    week = UsageWeek.objects.get(account=account)
    assert (week.meter_used, week.overflow_units) == (200, 100)
    assert sum(r.extras_debited for r in results) == 100
    assert ExtrasBalance.objects.get(account=account).cached_balance == -100
    events = sent.of("meter_threshold_crossed")
    assert sorted(e["threshold"] for e in events) == [80, 100]
    assert week.alerted_at_80 is not None and week.alerted_at_100 is not None


def test_20_concurrent_replays_of_one_key_apply_once(account, pro):
    results = run_concurrently(lambda i: attribute(account, "same", units(10)), 20)
    assert sum(r.applied for r in results) == 1
    assert UsageWeek.objects.get(account=account).meter_used == 10
    assert Attribution.objects.filter(account=account).count() == 1


def test_5_concurrent_overflows_leave_the_ledger_balanced(account, pro):
    """The original's own test: at the quota with a pack, five overflows at once."""
    pack = topup(account, 100)
    attribute(account, "fill", units(100))
    results = run_concurrently(lambda i: attribute(account, f"over{i}", units(30)), 5)
    assert [r.extras_debited for r in results] == [30] * 5
    balance = ExtrasBalance.objects.get(account=account)
    assert (
        balance.cached_balance
        == -50
        == sum(LedgerEntry.objects.filter(balance=balance).values_list("amount", flat=True))
    )
    assert remaining(pack) == 0 and balance.unbacked_units == -50


def test_two_resets_at_once_leave_one_open_week(account, pro):
    monday = datetime(2026, 11, 30, 0, 0, 1, tzinfo=UTC)
    attribute(account, "old", units(1), now=datetime(2026, 11, 25, tzinfo=UTC))
    done = run_concurrently(lambda i: usage_week_reset(account_id=account.pk, now=monday), 2)
    assert sorted(done) == [False, True]
    assert UsageWeek.objects.filter(account=account, archived_at__isnull=True).count() == 1
    assert UsageWeek.objects.filter(account=account).count() == 2


def test_two_deliveries_of_the_same_checkout_session_credit_once(account):
    session = {
        "id": "cs_test_concurrent",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "amount_total": 1000,
        "currency": "usd",
        "payment_intent": "pi_concurrent",
        "metadata": {"kind": "extras", "pack_id": "extras-1k", "account_id": str(account.pk)},
    }
    credited = run_concurrently(lambda i: extras_topup_from_session(session=session), 2)
    assert sum(t is not None for t in credited) == 1
    assert Topup.objects.count() == 1
    assert ExtrasBalance.objects.get(account=account).cached_balance == 1000


def test_concurrent_partial_refunds_of_the_same_amount_all_claw_back_never_beyond_the_pack(account):
    pack = topup(account, 1000, price_cents=1000, pi="pi_refunds")
    taken = run_concurrently(
        lambda i: extras_refund_clawback(refund_id=f"rf_{i}", payment_intent_id="pi_refunds", refunded_cents=400), 3
    )
    assert sorted(taken) == [200, 400, 400]
    assert Topup.objects.get(pk=pack.pk).clawed_back_units == 1000
    assert LedgerEntry.objects.filter(kind="refund").count() == 3
    assert ExtrasBalance.objects.get(account=account).cached_balance == 0


def test_two_partial_refunds_of_the_same_amount_both_claw_back(account):
    topup(account, 1000, price_cents=1000, pi="pi_two")
    taken = run_concurrently(
        lambda i: extras_refund_clawback(refund_id=f"rf_two_{i}", payment_intent_id="pi_two", refunded_cents=300), 2
    )
    assert taken == [300, 300]
    assert ExtrasBalance.objects.get(account=account).cached_balance == 400
    assert timezone.now()
