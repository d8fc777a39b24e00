"""An account's usage per ISO week and the attributions that make it up (METERING.md "Attribution")."""

from django.db import models
from django.db.models import Q

from accounts.models import Account
from plans.models import PlanVersion


class UsageWeek(models.Model):
    """One row per (account, ISO week). The quota and plan version are the ones in force when the week opened
    (a plan change mid-week rotates them: metering/services/weeks.py); the thresholds are marked by conditional
    updates so that each is announced once per week."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="usage_weeks")
    week_key = models.CharField(max_length=8, help_text="ISO week, YYYY-Www.")
    plan_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="usage_weeks")
    meter_quota = models.BigIntegerField()
    meter_used = models.BigIntegerField(default=0)
    # Units past the quota (debited from the extras): the weekly check compares it with the ledger's debits.
    overflow_units = models.BigIntegerField(default=0)
    breakdown = models.JSONField(default=dict, blank=True)
    alerted_at_80 = models.DateTimeField(null=True, blank=True)
    alerted_at_100 = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField()
    reset_at = models.DateTimeField(help_text="The next Monday 00:00 UTC, when this week ends.")
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account_id", "-week_key"]
        constraints = [
            models.UniqueConstraint(fields=["account", "week_key"], name="usage_week_unique"),
            models.CheckConstraint(condition=Q(meter_used__gte=0), name="usage_week_used_not_negative"),
            models.CheckConstraint(condition=Q(meter_quota__gte=0), name="usage_week_quota_not_negative"),
            models.CheckConstraint(condition=Q(overflow_units__gte=0), name="usage_week_overflow_not_negative"),
            models.CheckConstraint(condition=Q(week_key__regex=r"^[0-9]{4}-W[0-9]{2}$"), name="usage_week_key_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.week_key}: {self.meter_used}/{self.meter_quota}"


class Attribution(models.Model):
    """One metered operation, recorded once: its key `{history_id}:{step_key}` is unique per account (another
    account's keys can neither collide with nor reveal ours)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="attributions")
    key = models.CharField(max_length=200)
    week_key = models.CharField(max_length=8)
    units = models.BigIntegerField()
    extras_debited = models.BigIntegerField(default=0)
    breakdown = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="attribution_key_unique"),
            models.CheckConstraint(condition=Q(units__gte=0), name="attribution_units_not_negative"),
            models.CheckConstraint(
                condition=Q(extras_debited__gte=0) & Q(extras_debited__lte=models.F("units")),
                name="attribution_debit_within_units",
            ),
        ]
        indexes = [models.Index(fields=["account", "week_key"], name="attribution_account_week")]

    def __str__(self) -> str:
        return self.key
