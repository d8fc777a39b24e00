"""Reads of usage weeks: what a usage chart needs (this week and the past ones)."""

from django.conf import settings
from django.utils import timezone

from metering.models import UsageWeek
from metering.thresholds import THRESHOLDS, percent
from metering.weeks import next_monday, week_key
from plans.services.defaults import account_subscription_ensure

PAST_WEEKS = 12


def _week(row: UsageWeek) -> dict:
    return {
        "week_key": row.week_key,
        "used": row.meter_used,
        "quota": row.meter_quota,
        "percent": percent(row.meter_used, row.meter_quota),
        "overflow": row.overflow_units,
        "breakdown": row.breakdown,
        "plan_version": row.plan_version_id,
        "thresholds_sent": [t for t in THRESHOLDS if getattr(row, f"alerted_at_{t}") is not None],
        "reset_at": row.reset_at,
    }


def usage_summary(*, account, now=None) -> dict:
    """This week (a week not opened yet reads as 0 used of the current plan's quota, nothing written) and up to
    PAST_WEEKS earlier weeks, newest first. Two queries."""
    now = now or timezone.now()
    key = week_key(now)
    rows = list(UsageWeek.objects.filter(account=account, week_key__lte=key).order_by("-week_key")[: PAST_WEEKS + 1])
    current = rows[0] if rows and rows[0].week_key == key else None
    past = rows[1:] if current else rows[:PAST_WEEKS]
    if current is not None:
        this_week = _week(current)
    else:
        version = account_subscription_ensure(account=account).plan_version
        this_week = {
            "week_key": key,
            "used": 0,
            "quota": version.weekly_quota,
            "percent": 0,
            "overflow": 0,
            "breakdown": {},
            "plan_version": version.pk,
            "thresholds_sent": [],
            "reset_at": next_monday(now),
        }
    return {"meter_mode": settings.BILLING_METER_MODE, "current": this_week, "past": [_week(r) for r in past]}
