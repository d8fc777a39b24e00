"""The weekly check beside reconciliation (METERING.md): the extras debited for a week must match the week's
overflow; a gap larger than max(50, 0.5 %) units is a divergence, recorded with plans' reconciliation divergences
(kind `meter_extras`) for staff to see in the admin, and logged. Nothing is changed."""

import logging
import uuid

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from core.check_results import METERING_LEDGER, record_check
from metering.models import LedgerEntry, UsageWeek
from plans.models import AccountSubscription, Divergence
from plans.services.reconciliation import divergence_record

logger = logging.getLogger(__name__)

DIVERGENCE_MIN_UNITS = 50
DIVERGENCE_FRACTION_PER_MILLE = 5  # 0.5 %


def week_divergences(*, week_key: str) -> list[dict]:
    """Weeks whose overflow does not match the extras debited for them by more than max(50, 0.5 %) units."""
    debited = dict(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DEBIT, week_key=week_key)
        .values("balance__account_id")
        .annotate(units=Coalesce(-Sum("amount"), 0))
        .values_list("balance__account_id", "units")
    )
    problems = []
    for week in UsageWeek.objects.filter(Q(week_key=week_key)).only("account_id", "overflow_units"):
        ledger = debited.get(week.account_id, 0)
        gap = abs(week.overflow_units - ledger)
        allowed = max(DIVERGENCE_MIN_UNITS, week.overflow_units * DIVERGENCE_FRACTION_PER_MILLE // 1000)
        if gap > allowed:
            problems.append(
                {
                    "account_id": str(week.account_id),
                    "week_key": week_key,
                    "overflow": week.overflow_units,
                    "debited": ledger,
                    "gap": gap,
                }
            )
    return problems


def week_check_run(*, week_key: str) -> list[dict]:
    """The week's divergences, each recorded as a `meter_extras` divergence (an open one of the account is updated,
    not repeated). Answers them."""
    problems = week_divergences(week_key=week_key)
    subscriptions = dict(
        AccountSubscription.objects.filter(account_id__in=[p["account_id"] for p in problems]).values_list(
            "account_id", "pk"
        )
    )
    for problem in problems:
        logger.error("Metering divergence: %s", problem)
        divergence_record(
            kind=Divergence.Kind.METER_EXTRAS,
            account_id=problem["account_id"],
            subscription_id=subscriptions.get(uuid.UUID(problem["account_id"])),
            ours={"week_key": week_key, "overflow_units": problem["overflow"]},
            theirs={"week_key": week_key, "extras_debited_units": problem["debited"]},
            fields=["extras_debited"],
            note=f"Week {week_key}: overflow {problem['overflow']} units, extras debited {problem['debited']} "
            f"(gap {problem['gap']}).",
        )
    return problems


def ledger_check_record(problems: list[dict]) -> None:
    """The result of a check of every extras balance against its ledger (`metering.selectors.checks.
    ledger_differences`, run by the daily beat and `manage.py metering_ledger_check`): each difference logged as an
    error, the result recorded for /metrics (`billing_ledger_check_ok{check="metering_ledger"}`)."""
    record_check(METERING_LEDGER, len(problems))
    for problem in problems:
        logger.error("Extras ledger difference: %s", problem)
