"""The account's payouts, read from the mirror (SPEC §4, issue 11 item 6): the list, one payout with the balance
transactions it paid out, and a summary by status and by month per currency, each a constant number of queries
computed by the database (aggregates, never a loop over rows)."""

from collections import defaultdict
from datetime import tzinfo

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncMonth

from billing.models import BalanceTransaction, Payout
from billing.selectors.mirror import mirror_get, mirror_list


def payout_list(*, account):
    return mirror_list(account=account, model=Payout)


def payout_get(*, account, stripe_id: str) -> Payout:
    return mirror_get(account=account, model=Payout, stripe_id=stripe_id)


def payout_balance_transactions(*, account, payout: Payout):
    """What the payout paid out: the balance transactions Stripe lists for it (`?payout=`), the payout's own
    included."""
    return mirror_list(account=account, model=BalanceTransaction).filter(payout_stripe_id=payout.stripe_id)


def payout_balance_totals(*, account, payout: Payout) -> dict:
    """Count and sums (gross, fees, net, minor units) of the payout's balance transactions other than the payout's
    own, in one aggregate query."""
    totals = (
        payout_balance_transactions(account=account, payout=payout)
        .exclude(type="payout")
        .aggregate(count=Count("id"), amount=Sum("amount"), fee=Sum("fee"), net=Sum("net"))
    )
    return {name: value or 0 for name, value in totals.items()}


def payout_summary(*, payouts, tz: tzinfo) -> list[dict]:
    """Per currency: count and amount in all, by status, and by arrival month in `tz` (each month by status too).
    One GROUP BY (currency, month, status) query; the groups (a few per month) are folded here."""
    groups = (
        payouts.annotate(month=TruncMonth("arrival_date", tzinfo=tz))
        .values("currency", "month", "status")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("currency", F("month").asc(nulls_last=True), "status")
    )
    currencies: dict[str, dict] = {}
    for group in groups:
        currency = currencies.setdefault(
            group["currency"],
            {"count": 0, "amount": 0, "by_status": defaultdict(_zero), "by_month": defaultdict(_month)},
        )
        month_key = group["month"].strftime("%Y-%m") if group["month"] else None
        month = currency["by_month"][month_key]
        for bucket in (currency, currency["by_status"][group["status"]], month, month["by_status"][group["status"]]):
            bucket["count"] += group["count"]
            bucket["amount"] += group["amount"] or 0
    return [
        {
            "currency": name,
            "count": summary["count"],
            "amount": summary["amount"],
            "by_status": _statuses(summary["by_status"]),
            "by_month": [
                {
                    "month": key,
                    "count": month["count"],
                    "amount": month["amount"],
                    "by_status": _statuses(month["by_status"]),
                }
                for key, month in summary["by_month"].items()  # in month order: the query's
            ],
        }
        for name, summary in currencies.items()
    ]


def _zero() -> dict:
    return {"count": 0, "amount": 0}


def _month() -> dict:
    return {"count": 0, "amount": 0, "by_status": defaultdict(_zero)}


def _statuses(by_status: dict) -> list[dict]:
    return [{"status": status, **totals} for status, totals in sorted(by_status.items())]
