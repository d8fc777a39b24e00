"""Attribution, exactly once (METERING.md "Attribution"), through the service and the API."""

from decimal import Decimal

import pytest

from metering.models import Attribution, ExtrasBalance, LedgerEntry, UsageWeek
from metering.services.attribution import AttributionInput, attributions_apply
from metering.weeks import next_monday, week_key
from tests.helpers.notifications import record_notifications
from tests.metering.conftest import attribute, units

pytestmark = pytest.mark.django_db
URL = "/api/v1/metering/attributions/"


def state(account):
    week = UsageWeek.objects.filter(account=account).first()
    balance = ExtrasBalance.objects.filter(account=account).first()
    return (
        Attribution.objects.filter(account=account).count(),
        week.meter_used if week else None,
        balance.cached_balance if balance else None,
        LedgerEntry.objects.filter(balance__account=account).count(),
    )


def test_the_first_attribution_opens_the_week_with_the_plan_snapshot(account, pro):
    result = attribute(account, "h1", {"gpu": Decimal("0.01")})
    assert (result.applied, result.units, result.extras_debited) == (True, 25, 0)
    week = UsageWeek.objects.get(account=account)
    from django.utils import timezone

    now = timezone.now()
    assert (week.week_key, week.meter_used, week.meter_quota, week.plan_version_id) == (week_key(now), 25, 100, pro.pk)
    assert week.reset_at == next_monday(now)
    assert week.breakdown == {"gpu": 25}


def test_a_replay_returns_applied_false_and_changes_nothing(account, pro):
    attribute(account, "h1", units(150))  # past the quota: a debit too
    before = state(account)
    again = attribute(account, "h1", units(150))
    assert (again.applied, again.units, again.extras_debited, again.reason) == (False, 0, 0, "replay")
    assert state(account) == before


def test_the_step_key_defaults_to_initial_and_keys_differ_by_step(account, pro):
    attribute(account, "h1", units(1))
    attribute(account, "h1:step-2", units(1))
    assert set(Attribution.objects.values_list("key", flat=True)) == {"h1:initial", "h1:step-2"}


def test_keys_are_per_account(account, pro, other_account):
    attribute(account, "h1", units(1))
    assert attribute(other_account, "h1", units(1)).applied


def test_overflow_is_debited_from_the_extras_and_may_go_negative(account, pro):
    assert attribute(account, "a", units(90)).extras_debited == 0
    crossing = attribute(account, "b", units(30))  # 90 → 120: 20 past the quota
    beyond = attribute(account, "c", units(5))  # all past the quota
    assert (crossing.extras_debited, beyond.extras_debited) == (20, 5)
    balance = ExtrasBalance.objects.get(account=account)
    assert balance.cached_balance == -25  # no pack: an overage is never lost
    debits = LedgerEntry.objects.filter(balance=balance, kind="debit").order_by("id")
    assert [(d.amount, d.ref) for d in debits] == [(-20, "b:initial"), (-5, "c:initial")]
    week = UsageWeek.objects.get(account=account)
    assert (week.meter_used, week.overflow_units) == (125, 25)


def test_thresholds_are_sent_once_each_80_then_100_on_a_jump(
    account, pro, monkeypatch, django_capture_on_commit_callbacks
):
    sent = record_notifications(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        attribute(account, "a", units(50))
    assert sent.of("meter_threshold_crossed") == []
    with django_capture_on_commit_callbacks(execute=True):
        attribute(account, "b", units(60))  # 50 → 110: past both at once
    with django_capture_on_commit_callbacks(execute=True):
        attribute(account, "c", units(10))
    events = sent.of("meter_threshold_crossed")
    week = week_key(UsageWeek.objects.get(account=account).opened_at)
    assert events == [
        {"account_id": str(account.pk), "week_key": week, "threshold": 80, "meter_used": 110, "meter_quota": 100},
        {"account_id": str(account.pk), "week_key": week, "threshold": 100, "meter_used": 110, "meter_quota": 100},
    ]
    assert sent.sent[0][0] == f"account.{account.pk}"


def test_no_event_leaves_when_the_transaction_rolls_back(account, pro, monkeypatch, django_capture_on_commit_callbacks):
    from django.db import transaction

    sent = record_notifications(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            attribute(account, "a", units(100))
            raise RuntimeError("rolled back")
    assert sent.of("meter_threshold_crossed") == []
    assert UsageWeek.objects.filter(account=account, alerted_at_80__isnull=False).count() == 0


def test_zero_costs_are_recorded_as_skipped_and_charge_nothing(account, pro):
    result = attribute(account, "z", {"gpu": 0})
    assert (result.applied, result.units, result.reason) == (True, 0, "zero_cost_skipped")
    assert Attribution.objects.get(key="z:initial").reason == "zero_cost_skipped"
    assert attribute(account, "z", {"gpu": 0}).applied is False


def test_no_costs_count_the_run_base(account, pro, settings):
    settings.METER_RUN_BASE = 7
    assert attribute(account, "r").units == 7


def test_one_attribution_is_capped(account, pro, settings):
    settings.MAX_UNITS_PER_OPERATION = 10
    result = attribute(account, "big", {"gpu": "1", "llm": "1"})
    assert (result.units, result.reason) == (10, "capped")
    assert sum(Attribution.objects.get(key="big:initial").breakdown.values()) == 10


def test_metering_off_does_nothing_and_says_so(account, pro, settings):
    settings.BILLING_METER_MODE = False
    result = attribute(account, "h1", units(5))
    assert (result.applied, result.reason) == (False, "meter_mode_off")
    assert state(account) == (0, None, None, 0)


def test_a_batch_applies_each_item_once_in_order(account, pro):
    items = [AttributionInput(f"k{i}:initial", units(30)) for i in range(4)] + [
        AttributionInput("k0:initial", units(30))
    ]
    results = attributions_apply(account_id=account.pk, items=items)
    assert [(r.applied, r.units, r.extras_debited) for r in results] == [
        (True, 30, 0),
        (True, 30, 0),
        (True, 30, 0),
        (True, 30, 20),
        (False, 0, 0),
    ]
    assert results[-1].reason == "replay"


# --- The API


def test_the_api_attributes_one_and_answers_its_result(api, account, pro):
    response = api.post(URL, {"history_id": "run-1", "costs": {"gpu": 0.42}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "key": "run-1:initial",
        "applied": True,
        "units": 1050,
        "extras_debited": 950,
        "reason": "",
    }
    again = api.post(URL, {"history_id": "run-1", "costs": {"gpu": 0.42}}, format="json").json()
    assert (again["applied"], again["reason"]) == (False, "replay")


def test_the_api_reads_costs_as_decimals_not_floats(api, account, pro):
    # 0.29 as a binary float is 0.28999…; × 1000 floored would be 289.
    body = b'{"history_id": "f", "costs": {"llm": 0.29}}'
    response = api.post(URL, body, content_type="application/json")
    assert response.json()["units"] == 290


def test_the_api_takes_a_batch_with_per_item_results(api, account, pro):
    body = {"attributions": [{"history_id": "b", "step_key": f"s{i}", "costs": {"x": "0.04"}} for i in range(3)]}
    body["attributions"].append({"history_id": "b", "step_key": "s0", "costs": {"x": "0.04"}})
    response = api.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    assert [(r["key"], r["applied"], r["extras_debited"]) for r in response.json()["results"]] == [
        ("b:s0", True, 0),
        ("b:s1", True, 0),
        ("b:s2", True, 20),
        ("b:s0", False, 0),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"history_id": "a b"}, "history_id"),
        ({"step_key": "x"}, "history_id"),
        ({"history_id": "h", "step_key": "x" * 65}, "step_key"),
        ({"history_id": "h", "step_key": "a/b"}, "step_key"),
        ({"history_id": "h", "costs": {"gpu.large": 1}}, "costs.gpu.large"),
        ({"history_id": "h", "costs": {"gpu": "lots"}}, "costs.gpu"),
        ({"history_id": "h", "costs": [1]}, "costs"),
        ({"history_id": "h", "cost": {}}, "cost"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, account, pro, body, field):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]["fields"]
    assert state(account) == (0, None, None, 0)


def test_one_bad_item_refuses_the_whole_batch(api, account, pro):
    body = {"attributions": [{"history_id": "ok"}, {"history_id": "bad", "costs": {"g": "x"}}]}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert "attributions[1].costs.g" in response.json()["error"]["details"]["fields"]
    assert state(account) == (0, None, None, 0)


@pytest.mark.parametrize("count", [0, 1001])
def test_a_batch_holds_1_to_1000(api, account, pro, count):
    body = {"attributions": [{"history_id": f"h{i}"} for i in range(count)]}
    assert api.post(URL, body, format="json").status_code == 400


def test_attributing_needs_a_member_token(account, pro):
    from rest_framework.test import APIClient

    assert APIClient().post(URL, {"history_id": "h"}, format="json").status_code == 401
