"""What a user sees: `GET /api/v1/metering/usage/` (a usage chart's data) and the admin's usage weeks and ledgers."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from metering.models import ExtrasBalance, LedgerEntry
from metering.weeks import week_key
from tests.factories import UserFactory
from tests.metering.conftest import attribute, units
from tests.metering.helpers import topup

pytestmark = pytest.mark.django_db
URL = "/api/v1/metering/usage/"


def test_usage_gives_this_week_and_the_last_12(api, account, pro):
    now = timezone.now()
    for weeks_ago in range(1, 15):
        attribute(account, f"w{weeks_ago}", {"gpu": "0.004"}, now=now - timedelta(weeks=weeks_ago))
    attribute(account, "now-1", {"gpu": "0.02", "llm": "0.035"})  # 50 + 35
    body = api.get(URL).json()
    current = body["current"]
    assert (current["week_key"], current["used"], current["quota"], current["percent"]) == (week_key(now), 85, 100, 85)
    assert current["breakdown"] == {"gpu": 50, "llm": 35}
    assert current["thresholds_sent"] == [80]
    assert body["meter_mode"] is True
    past = body["past"]
    assert len(past) == 12
    assert [p["week_key"] for p in past] == [week_key(now - timedelta(weeks=n)) for n in range(1, 13)]
    assert past[0]["used"] == 10


def test_usage_before_any_attribution_reads_zero_of_the_plans_quota_and_writes_nothing(api, account, pro):
    body = api.get(URL).json()
    assert (body["current"]["used"], body["current"]["quota"], body["current"]["percent"], body["past"]) == (
        0,
        100,
        0,
        [],
    )
    from metering.models import UsageWeek

    assert not UsageWeek.objects.exists()


def test_usage_is_the_tokens_accounts_only(api, account, pro, other_account):
    attribute(other_account, "theirs", units(40))
    assert api.get(URL).json()["current"]["used"] == 0


@pytest.fixture
def billing_staff():
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="billing_admin_ops"))
    browser = Client()
    browser.force_login(user)
    return browser, user


def test_the_admin_shows_usage_weeks_and_ledgers_read_only(billing_staff, account, pro):
    browser, _ = billing_staff
    topup(account, 100)
    attribute(account, "a", units(120))
    browser_super = Client()
    browser_super.force_login(UserFactory(is_staff=True, is_superuser=True))
    weeks = browser_super.get("/admin/metering/usageweek/")
    assert weeks.status_code == 200 and week_key(timezone.now()) in weeks.content.decode()
    entries = browser_super.get("/admin/metering/ledgerentry/")
    assert entries.status_code == 200 and "a:initial" in entries.content.decode()
    entry = LedgerEntry.objects.get(kind="debit")
    page = browser_super.get(f"/admin/metering/ledgerentry/{entry.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert browser_super.post(f"/admin/metering/ledgerentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403


def test_the_admin_adjustment_form_writes_a_ledger_entry(billing_staff, account):
    browser, user = billing_staff
    topup(account, 100)
    balance = ExtrasBalance.objects.get(account=account)
    url = f"/admin/metering/extrasbalance/{balance.pk}/change/"
    page = browser.get(url)
    assert page.status_code == 200 and "test-pack" in page.content.decode()
    refused = browser.post(url, {"adjust_units": "25", "adjust_reason": ""})
    assert refused.status_code == 200 and "needs a reason" in refused.content.decode()
    assert browser.post(url, {"adjust_units": "-25", "adjust_reason": "goodwill reversal"}).status_code == 302
    entry = LedgerEntry.objects.get(kind="adjustment")
    assert (entry.amount, entry.reason, entry.created_by) == (-25, "goodwill reversal", user)
    balance.refresh_from_db()
    assert balance.cached_balance == 75


def test_staff_without_the_billing_permission_cannot_adjust(account):
    topup(account, 100)
    browser = Client()
    browser.force_login(UserFactory(is_staff=True))
    balance = ExtrasBalance.objects.get(account=account)
    response = browser.post(
        f"/admin/metering/extrasbalance/{balance.pk}/change/", {"adjust_units": "5", "adjust_reason": "x"}
    )
    assert response.status_code == 403
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()
