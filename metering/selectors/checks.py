"""The ledger's and the weeks' consistency checks (a management command and a weekly task run them)."""

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from metering.models import ExtrasBalance, LedgerEntry, Topup, UsageWeek

DIVERGENCE_MIN_UNITS = 50
DIVERGENCE_FRACTION_PER_MILLE = 5  # 0.5 %


def ledger_differences() -> list[dict]:
    """Every balance whose cached balance is not the sum of its entries, or not the top-ups' remaining units plus
    its unbacked units. Three aggregate queries, whatever the number of accounts."""
    sums = dict(
        LedgerEntry.objects.values("balance_id").annotate(total=Sum("amount")).values_list("balance_id", "total")
    )
    remaining = dict(
        Topup.objects.filter(expired_at__isnull=True)
        .values("balance_id")
        .annotate(left=Sum("remaining_units"))
        .values_list("balance_id", "left")
    )
    problems = []
    for balance in ExtrasBalance.objects.only("id", "account_id", "cached_balance", "unbacked_units"):
        entries = sums.get(balance.pk, 0) or 0
        backed = (remaining.get(balance.pk, 0) or 0) + balance.unbacked_units
        if balance.cached_balance != entries or balance.cached_balance != backed:
            problems.append(
                {
                    "account_id": str(balance.account_id),
                    "cached_balance": balance.cached_balance,
                    "sum_of_entries": entries,
                    "topups_remaining_plus_unbacked": backed,
                }
            )
    return problems


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
