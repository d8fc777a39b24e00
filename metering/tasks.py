"""Thin Celery tasks of metering, on the `metering` queue (CELERY_TASK_ROUTES), run by beat (PeriodicTask rows of
metering/migrations/0002): the Monday reset, the daily expiration sweep, the weekly check, the daily
ledger check (metering/migrations/0003)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from metering.selectors.checks import ledger_differences
from metering.services.checks import ledger_check_record, week_check_run
from metering.services.extras import extras_expire_due
from metering.services.weeks import usage_weeks_reset_all_due
from metering.weeks import week_key

logger = logging.getLogger(__name__)


@shared_task(name="metering.reset_due_weeks", acks_late=True)
def reset_due_weeks() -> dict:
    return usage_weeks_reset_all_due()


@shared_task(name="metering.expire_topups", acks_late=True)
def expire_topups() -> int:
    swept = total = extras_expire_due()
    while swept:  # a sweep takes at most 1,000 top-ups at a time
        swept = extras_expire_due()
        total += swept
    return total


@shared_task(name="metering.check_weeks")
def check_weeks() -> int:
    """Last week's overflow against the extras debited for it; each divergence is recorded for staff and logged."""
    return len(week_check_run(week_key=week_key(timezone.now() - timedelta(days=7))))


@shared_task(name="metering.check_ledger")
def check_ledger() -> int:
    """Every extras balance against its ledger; differences logged as errors and counted by /metrics."""
    problems = ledger_differences()
    ledger_check_record(problems)
    return len(problems)
