"""The weekly reset, the plan change mid-week, the beat schedule and the `metering` queue (METERING.md "Weekly
reset")."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings
from django_celery_beat.models import PeriodicTask

from metering.models import LedgerEntry, UsageWeek
from metering.services.checks import week_divergences
from metering.services.weeks import usage_week_reset, usage_weeks_reset_all_due
from plans.hooks import plan_changed
from plans.models import AccountSubscription
from tests.metering.conftest import attribute, plan_version, put_on, units

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 30, 0, 0, 5, tzinfo=UTC)  # 2026-W49 begins


def subscription(account) -> AccountSubscription:
    return AccountSubscription.objects.get(account=account)


def test_the_reset_archives_other_weeks_and_opens_the_new_one_with_the_current_quota(account, pro):
    attribute(account, "last-week", units(70), now=MONDAY - timedelta(days=2))
    bigger = plan_version(slug="team", quota=500)
    put_on(account, bigger)
    assert usage_week_reset(account_id=account.pk, now=MONDAY)
    rows = {w.week_key: w for w in UsageWeek.objects.filter(account=account)}
    assert rows["2026-W48"].archived_at == MONDAY and rows["2026-W48"].meter_used == 70
    new = rows["2026-W49"]
    assert (new.meter_used, new.meter_quota, new.plan_version_id, new.archived_at) == (0, 500, bigger.pk, None)
    assert subscription(account).last_reset_at == datetime(2026, 11, 30, tzinfo=UTC)


def test_running_twice_changes_nothing_more(account, pro):
    assert usage_week_reset(account_id=account.pk, now=MONDAY)
    attribute(account, "a", units(5), now=MONDAY + timedelta(hours=1))
    assert not usage_week_reset(account_id=account.pk, now=MONDAY + timedelta(hours=2))
    assert usage_weeks_reset_all_due(now=MONDAY + timedelta(hours=3))["reset"] == 0
    assert UsageWeek.objects.get(account=account, week_key="2026-W49").meter_used == 5


def test_the_anchor_is_the_week_start_so_every_monday_resets(account, pro):
    """Anchoring on the run time (or on the billing period start) left weeks without a reset in the original."""
    for week in range(5):
        # The beat runs a little after midnight, later each week.
        assert usage_week_reset(account_id=account.pk, now=MONDAY + timedelta(days=7 * week, minutes=week))
    assert UsageWeek.objects.filter(account=account).count() == 5
    assert UsageWeek.objects.filter(account=account, archived_at__isnull=True).count() == 1


def test_only_active_or_trialing_subscriptions_are_reset(account, pro, other_account):
    AccountSubscription.objects.filter(account=other_account).update(status="canceled")
    result = usage_weeks_reset_all_due(now=MONDAY)
    assert result["reset"] >= 1
    assert not UsageWeek.objects.filter(account=other_account).exists()
    AccountSubscription.objects.filter(account=other_account).update(status="trialing")
    assert usage_weeks_reset_all_due(now=MONDAY)["reset"] == 1


def test_metering_off_resets_nothing_and_says_so(account, pro, settings):
    settings.BILLING_METER_MODE = False
    assert usage_weeks_reset_all_due(now=MONDAY) == {"reset": 0, "meter_mode": "off"}
    assert not UsageWeek.objects.exists()


def test_a_plan_change_mid_week_rotates_the_open_weeks_quota_and_keeps_its_usage(account, pro):
    attribute(account, "a", units(90))
    bigger = plan_version(slug="team", quota=1000)
    sub = put_on(account, bigger)
    plan_changed(subscription=sub, previous_version=pro, new_version=bigger)  # as plans' services call it
    week = UsageWeek.objects.get(account=account)
    assert (week.meter_used, week.meter_quota, week.plan_version_id) == (90, 1000, bigger.pk)
    # The rest of the week is measured against the new quota: no overflow now.
    assert attribute(account, "b", units(100)).extras_debited == 0


def test_the_weekly_check_reports_a_divergence_beyond_50_units_or_half_a_percent(account, pro):
    attribute(account, "a", units(400), now=MONDAY)  # 300 overflow, debited
    assert week_divergences(week_key="2026-W49") == []
    UsageWeek.objects.filter(account=account).update(overflow_units=350)  # 50 off: within max(50, 0.5 %)
    assert week_divergences(week_key="2026-W49") == []
    UsageWeek.objects.filter(account=account).update(overflow_units=351)
    (problem,) = week_divergences(week_key="2026-W49")
    assert (problem["overflow"], problem["debited"], problem["gap"]) == (351, 300, 51)
    assert LedgerEntry.objects.filter(kind="debit", week_key="2026-W49").count() == 1


def test_the_weekly_check_records_each_divergence_for_staff_once_and_changes_nothing(account, pro):
    from metering.services.checks import week_check_run
    from plans.models import Divergence

    attribute(account, "a", units(400), now=MONDAY)
    UsageWeek.objects.filter(account=account).update(overflow_units=400)
    assert len(week_check_run(week_key="2026-W49")) == 1
    UsageWeek.objects.filter(account=account).update(overflow_units=420)
    assert len(week_check_run(week_key="2026-W49")) == 1  # run again: the open divergence is updated

    (divergence,) = Divergence.objects.filter(kind=Divergence.Kind.METER_EXTRAS)
    assert (divergence.account_id, divergence.status) == (account.pk, Divergence.Status.OPEN)
    assert divergence.ours["overflow_units"] == 420 and divergence.theirs["extras_debited_units"] == 300
    assert "gap 120" in divergence.note
    assert UsageWeek.objects.get(account=account).overflow_units == 420  # nothing changed by the check


def test_beat_runs_the_reset_on_monday_midnight_utc_and_the_expiry_daily():
    reset = PeriodicTask.objects.select_related("crontab").get(task="metering.reset_due_weeks")
    cron = reset.crontab
    assert (cron.minute, cron.hour, cron.day_of_week, str(cron.timezone)) == ("0", "0", "1", "UTC")
    expiry = PeriodicTask.objects.select_related("crontab").get(task="metering.expire_topups")
    assert (expiry.crontab.day_of_week, expiry.crontab.day_of_month, expiry.enabled) == ("*", "*", True)
    assert PeriodicTask.objects.filter(task="metering.check_weeks", enabled=True).exists()
    from billing_project.celery import app

    app.loader.import_default_modules()
    names = set(PeriodicTask.objects.filter(name__startswith="metering:").values_list("task", flat=True))
    assert names == {
        "metering.reset_due_weeks",
        "metering.expire_topups",
        "metering.check_weeks",
        "metering.check_ledger",
    }
    assert names <= set(app.tasks)


def test_metering_tasks_go_to_their_own_queue_which_every_worker_consumes():
    from billing_project.celery import app
    from localdev.stack import WORKER_QUEUES
    from tests.helpers.celery_worker import configured_queues

    for name in ("metering.reset_due_weeks", "metering.expire_topups", "metering.check_weeks", "metering.check_ledger"):
        assert django_settings.CELERY_TASK_ROUTES[name] == {"queue": "metering"}
        assert app.amqp.router.route({}, name)["queue"].name == "metering"
    assert "metering" in WORKER_QUEUES and "metering" in configured_queues()


def test_a_real_worker_runs_the_reset_from_the_metering_queue(transactional_db, account, pro, redis_url):
    from core.queue import enqueue
    from tests.helpers.celery_worker import celery_worker
    from tests.helpers.polling import wait_until

    with celery_worker(redis_url, queues=["metering"]):
        enqueue("metering.reset_due_weeks")
        wait_until(lambda: UsageWeek.objects.filter(account=account).exists(), timeout=20)
    assert subscription(account).last_reset_at is not None
