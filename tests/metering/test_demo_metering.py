"""`scripts/dev`'s demo account has usage and an extras pack to look at (localdev/demo_metering.py)."""

import pytest

from localdev.demo_metering import seed_metering
from metering.models import ExtrasBalance, Topup, UsageWeek

pytestmark = pytest.mark.django_db


def test_the_demo_account_gets_twelve_weeks_of_usage_and_a_pack_once(api, account):
    first = seed_metering(account)
    assert first["pack_credited"] and first["attributions_applied"] == 72
    assert seed_metering(account) == {"attributions_applied": 0, "pack_credited": False}
    assert UsageWeek.objects.filter(account=account).count() == 12
    assert Topup.objects.get(balance__account=account).pack_id == "extras-10k"
    over = UsageWeek.objects.filter(account=account, overflow_units__gt=0)
    assert over.count() == 1
    assert ExtrasBalance.objects.get(account=account).cached_balance == 10_000 - over.get().overflow_units
    usage = api.get("/api/v1/metering/usage/").json()
    assert usage["current"]["used"] > 0 and len(usage["past"]) == 11
    assert 80 in usage["current"]["thresholds_sent"]
