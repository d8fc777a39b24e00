"""The extras ledger's one way in (METERING.md "Extras ledger"): every entry goes through `entries_append`, which
runs under the balance's row lock, writes the entries, draws their units from the top-ups (FIFO by expiry, then
age) and moves `cached_balance` in the same transaction. Callers open the transaction; this module never does.

Lock order everywhere: the usage week row (attribution), then the balance row, then its top-ups."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone

from core.errors import InvalidInput
from metering.models import Consumption, ExtrasBalance, LedgerEntry, Topup


@dataclass
class NewEntry:
    kind: str
    amount: int
    ref: str
    reason: str = ""
    week_key: str = ""
    created_by_id: int | None = None
    # A negative entry about one pack (a refund, a dispute) draws from that pack first.
    topup: Topup | None = None


SIGNS = {
    LedgerEntry.Kind.TOPUP: 1,
    LedgerEntry.Kind.DEBIT: -1,
    LedgerEntry.Kind.REFUND: -1,
    LedgerEntry.Kind.EXPIRATION: -1,
}


def balance_locked(*, account_id) -> ExtrasBalance:
    """The account's balance row, created if missing, locked until the transaction ends."""
    balance = ExtrasBalance.objects.select_for_update().filter(account_id=account_id).first()
    if balance is None:
        ExtrasBalance.objects.bulk_create([ExtrasBalance(account_id=account_id)], ignore_conflicts=True)
        balance = ExtrasBalance.objects.select_for_update().get(account_id=account_id)
    return balance


def check_entry(entry: NewEntry) -> None:
    """The sign rules (the database's check constraint says the same; this gives a readable 400 first)."""
    if entry.amount == 0:
        raise InvalidInput("A ledger entry of zero units is refused.", code="zero_amount")
    if not entry.ref:
        raise InvalidInput("A ledger entry needs a reference (its idempotency key).", code="missing_ref")
    sign = SIGNS.get(entry.kind)
    if sign is not None and (entry.amount > 0) != (sign > 0):
        raise InvalidInput(f"A {entry.kind} entry is {'positive' if sign > 0 else 'negative'}.", code="bad_sign")
    if entry.kind == LedgerEntry.Kind.ADJUSTMENT and not entry.reason.strip():
        raise InvalidInput("A staff adjustment needs a reason.", code="missing_reason")


def existing_refs(*, balance: ExtrasBalance, kind: str, refs: Sequence[str]) -> set[str]:
    return set(LedgerEntry.objects.filter(balance=balance, kind=kind, ref__in=list(refs)).values_list("ref", flat=True))


def entries_append(*, balance: ExtrasBalance, entries: Sequence[NewEntry], now=None) -> list[LedgerEntry]:
    """Writes `entries` on a balance locked by `balance_locked` (callers have checked their refs are new: a
    duplicate (kind, ref) is an IntegrityError that rolls the whole transaction back). Top-up entries are written
    by `topup_append`, which needs the pack; this handles every other kind."""
    if not entries:
        return []
    now = now or timezone.now()
    for entry in entries:
        check_entry(entry)
    rows = LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                balance=balance,
                kind=e.kind,
                amount=e.amount,
                ref=e.ref,
                reason=e.reason,
                week_key=e.week_key,
                created_by_id=e.created_by_id,
                created_at=now,
            )
            for e in entries
        ]
    )
    negatives = [(row, e) for row, e in zip(rows, entries, strict=True) if e.amount < 0]
    positive_free = sum(e.amount for e in entries if e.amount > 0)
    unbacked_delta = positive_free + _draw(balance=balance, negatives=negatives, now=now)
    delta = sum(e.amount for e in entries)
    _move(balance, delta=delta, unbacked_delta=unbacked_delta)
    return rows


def _draw(*, balance: ExtrasBalance, negatives, now) -> int:
    """Takes the negative entries' units from the top-ups, FIFO by expiry then age (a pack-specific entry from
    its pack first); answers the change to `unbacked_units` (minus what no top-up covered)."""
    if not negatives:
        return 0
    topups = list(
        Topup.objects.select_for_update()
        .filter(balance=balance, remaining_units__gt=0, expired_at__isnull=True, expires_at__gt=now)
        .order_by("expires_at", "id")
    )
    by_id = {t.pk: t for t in topups}
    consumptions: list[Consumption] = []
    uncovered = 0
    for row, entry in negatives:
        need = -entry.amount
        order = topups
        if entry.topup is not None:
            # The pack itself first, even past its expiry date as long as the sweep has not taken it.
            pack = by_id.get(entry.topup.pk) or entry.topup
            order = [pack, *[t for t in topups if t.pk != pack.pk]]
        for topup in order:
            if need == 0:
                break
            take = min(need, topup.remaining_units)
            if take <= 0:
                continue
            topup.remaining_units -= take
            need -= take
            consumptions.append(Consumption(entry=row, topup=topup, units=take))
        uncovered += need
    if consumptions:
        Consumption.objects.bulk_create(consumptions)
        touched = {c.topup.pk: c.topup for c in consumptions}
        Topup.objects.bulk_update(list(touched.values()), ["remaining_units"])
    return -uncovered


def _move(balance: ExtrasBalance, *, delta: int, unbacked_delta: int) -> None:
    ExtrasBalance.objects.filter(pk=balance.pk).update(
        cached_balance=F("cached_balance") + delta,
        unbacked_units=F("unbacked_units") + unbacked_delta,
        updated_at=timezone.now(),
    )
    balance.cached_balance += delta
    balance.unbacked_units += unbacked_delta


def topup_append(
    *,
    balance: ExtrasBalance,
    ref: str,
    pack_id: str,
    units: int,
    price_cents: int,
    currency: str,
    payment_intent_id: str,
    expires_at,
    now=None,
) -> Topup:
    """A paid pack's entry and its top-up; it first settles any debt (negative `unbacked_units`), so that its
    remaining units are only what the account can still spend (and what expiry may take)."""
    now = now or timezone.now()
    check_entry(NewEntry(kind=LedgerEntry.Kind.TOPUP, amount=units, ref=ref))
    entry = LedgerEntry.objects.create(
        balance=balance, kind=LedgerEntry.Kind.TOPUP, amount=units, ref=ref, reason=f"pack {pack_id}", created_at=now
    )
    settled = min(units, max(0, -balance.unbacked_units))
    topup = Topup.objects.create(
        entry=entry,
        balance=balance,
        pack_id=pack_id,
        units=units,
        price_cents=price_cents,
        currency=currency,
        checkout_session_id=ref,
        payment_intent_id=payment_intent_id,
        expires_at=expires_at,
        remaining_units=units - settled,
    )
    if settled:
        Consumption.objects.create(entry=entry, topup=topup, units=settled)
    _move(balance, delta=units, unbacked_delta=settled)
    return topup
