"""The ledger's consistency check (the `metering_ledger_check` command runs it). The weeks' check against the
extras debited for them, which records divergences, is services/checks.py."""

from django.db.models import Sum

from metering.models import ExtrasBalance, LedgerEntry, Topup


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
