"""Dunning (issue 16): only subscriptions past_due longer than BILLING_DUNNING_DAYS become unpaid, on the default
plan (plans' plan-change hook runs, so metering rotates the week); the others keep their `past_due_since`; an
account that cannot be moved is reported (a divergence and a count), not hidden, and does not stop the rest."""

from datetime import timedelta

import pytest
from django.utils import timezone

from plans.hooks import on_plan_change, remove_plan_change_hook
from plans.models import AccountSubscription, Divergence
from plans.services.dunning import dunning_run
from plans.tasks import run_dunning
from tests.factories import AccountFactory
from tests.plans.conftest import paid_plan

pytestmark = pytest.mark.django_db


def past_due(account, pro, days: float) -> AccountSubscription:
    AccountSubscription.objects.update_or_create(
        account=account,
        defaults={
            "plan": pro.plan,
            "plan_version": pro,
            "status": "past_due",
            "stripe_subscription_id": f"sub_{account.pk.hex[:8]}",
            "past_due_since": timezone.now() - timedelta(days=days),
        },
    )
    return AccountSubscription.objects.get(account=account)


@pytest.fixture
def pro(db):
    return paid_plan("pro", "price_pro_month")


def test_dunning_moves_only_those_past_the_threshold(settings, pro):
    settings.BILLING_DUNNING_DAYS = 14
    old = past_due(AccountFactory(), pro, 15)
    fresh = past_due(AccountFactory(), pro, 13)
    fresh_since = fresh.past_due_since
    changes = []

    def hook(*, subscription, previous_version, new_version):
        changes.append((subscription.account_id, previous_version.plan.slug, new_version.plan.slug))

    on_plan_change(hook)
    try:
        result = run_dunning()
    finally:
        remove_plan_change_hook(hook)

    assert result == {"due": 1, "moved": 1, "failed": 0}
    moved = AccountSubscription.objects.select_related("plan").get(pk=old.pk)
    assert (moved.status, moved.plan.slug, moved.past_due_since) == ("unpaid", "free", old.past_due_since)
    assert changes == [(old.account_id, "pro", "free")]
    kept = AccountSubscription.objects.select_related("plan").get(pk=fresh.pk)
    assert (kept.status, kept.plan.slug, kept.past_due_since) == ("past_due", "pro", fresh_since)
    assert dunning_run() == {"due": 0, "moved": 0, "failed": 0}


def test_threshold_comes_from_settings(settings, pro):
    settings.BILLING_DUNNING_DAYS = 3
    past_due(AccountFactory(), pro, 4)
    assert dunning_run()["moved"] == 1


def test_an_account_that_cannot_be_moved_is_reported_and_the_others_still_move(settings, pro):
    settings.BILLING_DUNNING_DAYS = 14
    broken = past_due(AccountFactory(), pro, 20)
    other = past_due(AccountFactory(), pro, 20)

    def hook(*, subscription, previous_version, new_version):
        # Stands for metering failing to rotate this account's week: the move rolls back with it.
        if subscription.pk == broken.pk:
            raise RuntimeError("week rotation failed")

    on_plan_change(hook)
    try:
        result = dunning_run()
    finally:
        remove_plan_change_hook(hook)

    assert result == {"due": 2, "moved": 1, "failed": 1}
    assert AccountSubscription.objects.get(pk=broken.pk).status == "past_due"
    assert AccountSubscription.objects.get(pk=other.pk).status == "unpaid"
    divergence = Divergence.objects.get()
    assert (divergence.kind, divergence.status, divergence.subscription_id) == ("dunning", "open", broken.pk)
    assert "week rotation failed" in divergence.note


def test_the_beat_runs_dunning_daily():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="plans.run_dunning")
    assert (task.crontab.hour, task.crontab.minute, task.enabled) == ("4", "0", True)


def test_the_beat_reconciles_on_sundays_at_three_utc():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="plans.run_reconciliation")
    assert (task.crontab.day_of_week, task.crontab.hour, task.crontab.minute) == ("0", "3", "0")
