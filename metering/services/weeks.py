"""Opening, resetting and rotating usage weeks (METERING.md "Weekly reset").

The week row of the current ISO week is opened on first use (an attribution) or by the Monday reset, whichever
comes first, with the quota and plan version of the account's `AccountSubscription` at that moment."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from metering.models import UsageWeek
from metering.weeks import next_monday, week_key, week_start
from plans.models import AccountSubscription
from plans.services.defaults import account_subscription_ensure

RESET_STATUSES = (AccountSubscription.Status.ACTIVE, AccountSubscription.Status.TRIALING)
RESET_EVERY = timedelta(days=7)


def usage_week_locked(*, account_id, now) -> UsageWeek:
    """This week's row for the account, opened if missing, locked until the transaction ends (the hot row every
    attribution of the account takes in turn)."""
    key = week_key(now)
    week = UsageWeek.objects.select_for_update().filter(account_id=account_id, week_key=key).first()
    if week is None:
        _week_open(account_id=account_id, key=key, now=now)
        week = UsageWeek.objects.select_for_update().get(account_id=account_id, week_key=key)
    return week


def _week_open(*, account_id, key: str, now, subscription: AccountSubscription | None = None) -> None:
    subscription = subscription or account_subscription_ensure(account_id=account_id)
    version = subscription.plan_version
    # ON CONFLICT DO NOTHING: two first attributions (or an attribution and the reset) at once open one row.
    UsageWeek.objects.bulk_create(
        [
            UsageWeek(
                account_id=account_id,
                week_key=key,
                plan_version=version,
                meter_quota=version.weekly_quota,
                opened_at=now,
                reset_at=next_monday(now),
            )
        ],
        ignore_conflicts=True,
    )


def _due(now) -> Q:
    return Q(status__in=RESET_STATUSES) & (Q(last_reset_at__isnull=True) | Q(last_reset_at__lte=now - RESET_EVERY))


def usage_week_reset(*, account_id, now=None) -> bool:
    """Opens the account's week if its reset is due: archives its other weeks' rows, opens this week's with the
    current plan version's quota (meter_used 0) and stores `last_reset_at`. Under the subscription's row lock
    and re-checked there, so running it twice, or on two workers at once, changes nothing more. Answers whether
    it reset."""
    if not settings.BILLING_METER_MODE:
        return False
    now = now or timezone.now()
    with transaction.atomic():
        subscription = (
            AccountSubscription.objects.select_for_update(of=("self",))
            .select_related("plan_version")
            .filter(_due(now), account_id=account_id)
            .first()
        )
        if subscription is None:
            return False
        key = week_key(now)
        UsageWeek.objects.filter(account_id=account_id, archived_at__isnull=True).exclude(week_key=key).update(
            archived_at=now
        )
        _week_open(account_id=account_id, key=key, now=now, subscription=subscription)
        # The anchor is the Monday 00:00 UTC of the week opened, never the moment the beat ran: next Monday's run
        # then finds it exactly 7 days old (anchoring on the run time, or on the billing period start, skipped
        # weeks). It is ≥ last_reset_at + 7 days whenever the reset is due.
        anchor = week_start(now)
        if subscription.last_reset_at is not None:
            anchor = max(anchor, min(subscription.last_reset_at + RESET_EVERY, now))
        AccountSubscription.objects.filter(pk=subscription.pk).update(last_reset_at=anchor)
    return True


def usage_weeks_reset_all_due(*, now=None) -> dict:
    """Every account whose reset is due (the Monday beat; safe to run any time, and twice)."""
    if not settings.BILLING_METER_MODE:
        return {"reset": 0, "meter_mode": "off"}
    now = now or timezone.now()
    due = list(AccountSubscription.objects.filter(_due(now)).values_list("account_id", flat=True))
    reset = sum(1 for account_id in due if usage_week_reset(account_id=account_id, now=now))
    return {"reset": reset, "due": len(due)}


def usage_week_rotate_plan(*, subscription, previous_version, new_version, now=None) -> None:
    """The plans hook (plans/hooks.py), inside the plan change's transaction: the open week takes the new plan
    version and its quota; its usage is kept. Thresholds already announced stay announced this week."""
    if not settings.BILLING_METER_MODE:
        return
    now = now or timezone.now()
    UsageWeek.objects.filter(account_id=subscription.account_id, week_key=week_key(now)).update(
        plan_version=new_version, meter_quota=new_version.weekly_quota
    )
