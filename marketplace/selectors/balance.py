"""Reading OneBalance: one account's balance and entries, an agency's sub-accounts' balances, and the check that
every cached balance equals the sum of its entries."""

from dataclasses import dataclass

from django.db.models import BigIntegerField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Account
from marketplace.models import Balance, LedgerEntry
from marketplace.rates import base_currency
from marketplace.roles import require_sub_account
from marketplace.selectors.accounts import viewed_account


@dataclass(frozen=True)
class BalanceView:
    account: Account
    amount: int
    currency: str
    entries: object  # a queryset, newest first


def balance_view(*, account, sub_account_id: str | None = None) -> BalanceView:
    """The viewed account must be a sub-account of an agency (403 otherwise); another account's is a 404."""
    target = viewed_account(account=account, sub_account_id=sub_account_id)
    require_sub_account(target)
    balance = Balance.objects.filter(account=target).first()
    if balance is None:
        return BalanceView(account=target, amount=0, currency=base_currency(), entries=LedgerEntry.objects.none())
    entries = LedgerEntry.objects.filter(balance=balance).order_by("-created_at", "-id")
    return BalanceView(account=target, amount=balance.amount, currency=balance.currency, entries=entries)


def agency_balances(*, agency):
    """The agency's sub-accounts with their balance (0 when they have none yet), by name."""
    amount = Balance.objects.filter(account=OuterRef("pk")).values("amount")[:1]
    return (
        Account.objects.filter(parent=agency)
        .annotate(balance_amount=Coalesce(Subquery(amount), Value(0), output_field=BigIntegerField()))
        .order_by("name", "pk")
    )


def balances_mismatched():
    """Balances whose cached amount differs from the sum of their entries (summed by the database)."""
    total = (
        LedgerEntry.objects.filter(balance=OuterRef("pk"))
        .values("balance")
        .annotate(total=Sum("amount"))
        .values("total")[:1]
    )
    rows = Balance.objects.annotate(entries_total=Coalesce(Subquery(total), Value(0), output_field=BigIntegerField()))
    return list(rows.exclude(amount=F("entries_total")).select_related("account"))
