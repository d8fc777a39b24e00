"""Reads of the extras: the balance and its ledger, newest first."""

from django.utils import timezone

from metering.models import ExtrasBalance, LedgerEntry, Topup


def extras_ledger_page(*, account, page: int, limit: int) -> dict:
    """`{"balance", "total", "entries", "topups"}`: page `page` (from 1) of `limit` entries; the active top-ups
    (remaining units and expiry) so a user sees what will expire when."""
    balance = ExtrasBalance.objects.filter(account=account).first()
    if balance is None:
        return {"balance": 0, "total": 0, "entries": [], "topups": []}
    entries = LedgerEntry.objects.filter(balance=balance).order_by("-created_at", "-id")
    total = entries.count()
    start = (page - 1) * limit
    rows = list(
        entries[start : start + limit].values("id", "kind", "amount", "ref", "reason", "week_key", "created_at")
    )
    topups = list(
        Topup.objects.filter(
            balance=balance, expired_at__isnull=True, remaining_units__gt=0, expires_at__gt=timezone.now()
        )
        .order_by("expires_at", "id")
        .values("pack_id", "units", "remaining_units", "expires_at")
    )
    return {"balance": balance.cached_balance, "total": total, "entries": rows, "topups": topups}
