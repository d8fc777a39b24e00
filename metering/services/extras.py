"""Writes to the extras other than attribution's debits (METERING.md "Extras ledger"): the top-up of a paid
credit pack, refund clawbacks, disputes, the expiration sweep and staff adjustments. Each runs in one
transaction under the balance's lock and is idempotent by its (kind, ref): a second delivery of the same Stripe
object, or a second sweep, adds nothing.

The webhook handlers call these inside the processing transaction: nothing here calls Stripe."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput
from metering.models import ExtrasBalance, LedgerEntry, Topup
from metering.packs import pack_get
from metering.services.ledger import NewEntry, balance_locked, entries_append, existing_refs, topup_append

logger = logging.getLogger(__name__)

EXTRAS_KIND = "extras"  # the checkout session's metadata `kind` for a credit pack


def extras_topup_from_session(*, session: dict, now=None) -> Topup | None:
    """Credits a paid credit-pack checkout session once per session id (None when it is not one, or was credited
    already). The pack comes from the session's metadata and is checked against what was paid, so a session
    whose amount or currency does not match the pack is refused (logged), never credited at the wrong size."""
    metadata = session.get("metadata") or {}
    if session.get("mode") != "payment" or metadata.get("kind") != EXTRAS_KIND:
        return None
    if session.get("payment_status") != "paid":
        return None
    pack = pack_get(metadata.get("pack_id", ""))
    account_id = metadata.get("account_id")
    if pack is None or not account_id:
        logger.error("Extras checkout %s names no known pack or account: %s", session.get("id"), metadata)
        return None
    paid = session.get("amount_total")
    if paid != pack.price_cents or (session.get("currency") or "").lower() != pack.currency:
        logger.error(
            "Extras checkout %s paid %s %s for pack %s", session.get("id"), paid, session.get("currency"), pack
        )
        return None
    now = now or timezone.now()
    with transaction.atomic():
        balance = balance_locked(account_id=account_id)
        if existing_refs(balance=balance, kind=LedgerEntry.Kind.TOPUP, refs=[session["id"]]):
            return None
        return topup_append(
            balance=balance,
            ref=session["id"],
            pack_id=pack.pack_id,
            units=pack.units,
            price_cents=pack.price_cents,
            currency=pack.currency,
            payment_intent_id=_id(session.get("payment_intent")),
            expires_at=now + timedelta(days=pack.expiry_days),
            now=now,
        )


def _id(value) -> str:
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _topup_for_payment(payment_intent_id: str, *, lock: bool = True) -> Topup | None:
    if not payment_intent_id:
        return None
    queryset = Topup.objects.select_related("balance").filter(payment_intent_id=payment_intent_id)
    topup = queryset.first()
    if topup is None:
        return None
    balance_locked(account_id=topup.balance.account_id)  # lock order: the balance, then its top-ups
    return Topup.objects.select_for_update().get(pk=topup.pk) if lock else topup


def clawback_units(*, refunded_cents: int, topup: Topup) -> int:
    """round(refunded / price × units), half up, in integers."""
    return (2 * refunded_cents * topup.units + topup.price_cents) // (2 * topup.price_cents)


def extras_refund_clawback(*, refund_id: str, payment_intent_id: str, refunded_cents: int, now=None) -> int:
    """Takes back the units of one Stripe refund (`rf_…`, its own ref: two partial refunds of the same amount are
    two clawbacks) of a pack payment; all of them together never take back more than the pack gave. Answers the
    units taken (0: not a pack payment, seen already, or nothing left to take)."""
    if refunded_cents <= 0:
        return 0
    with transaction.atomic():
        topup = _topup_for_payment(payment_intent_id)
        if topup is None:
            return 0
        if existing_refs(balance=topup.balance, kind=LedgerEntry.Kind.REFUND, refs=[refund_id]):
            return 0
        units = min(clawback_units(refunded_cents=refunded_cents, topup=topup), topup.units - topup.clawed_back_units)
        return _take_back(topup=topup, units=units, kind=LedgerEntry.Kind.REFUND, ref=refund_id, now=now)


def extras_refund_reversed(*, refund_id: str, payment_intent_id: str, now=None) -> int:
    """A refund that failed or was canceled gives its clawback back (an adjustment, ref `refund-reversed-<id>`)."""
    with transaction.atomic():
        topup = _topup_for_payment(payment_intent_id)
        if topup is None:
            return 0
        taken = LedgerEntry.objects.filter(balance=topup.balance, kind=LedgerEntry.Kind.REFUND, ref=refund_id).first()
        return _give_back(topup=topup, entry=taken, ref=f"refund-reversed-{refund_id}", why="refund failed", now=now)


def extras_dispute_withdrawn(*, dispute_id: str, payment_intent_id: str, now=None) -> int:
    """Funds withdrawn for a dispute on a pack payment: debits the pack's units (what refunds have not taken
    back already), ref `dispute-<id>`."""
    with transaction.atomic():
        topup = _topup_for_payment(payment_intent_id)
        if topup is None:
            return 0
        ref = f"dispute-{dispute_id}"
        if existing_refs(balance=topup.balance, kind=LedgerEntry.Kind.DEBIT, refs=[ref]):
            return 0
        return _take_back(
            topup=topup, units=topup.units - topup.clawed_back_units, kind=LedgerEntry.Kind.DEBIT, ref=ref, now=now
        )


def extras_dispute_reinstated(*, dispute_id: str, payment_intent_id: str, now=None) -> int:
    """Funds reinstated (the dispute was won): credits back what the dispute debited, ref
    `dispute-reinstated-<id>`."""
    with transaction.atomic():
        topup = _topup_for_payment(payment_intent_id)
        if topup is None:
            return 0
        taken = LedgerEntry.objects.filter(
            balance=topup.balance, kind=LedgerEntry.Kind.DEBIT, ref=f"dispute-{dispute_id}"
        ).first()
        return _give_back(
            topup=topup, entry=taken, ref=f"dispute-reinstated-{dispute_id}", why="dispute funds reinstated", now=now
        )


def _take_back(*, topup: Topup, units: int, kind: str, ref: str, now) -> int:
    if units <= 0:
        return 0
    entries_append(
        balance=topup.balance,
        entries=[NewEntry(kind=kind, amount=-units, ref=ref, reason=f"pack {topup.pack_id}", topup=topup)],
        now=now,
    )
    Topup.objects.filter(pk=topup.pk).update(clawed_back_units=topup.clawed_back_units + units)
    return units


def _give_back(*, topup: Topup, entry: LedgerEntry | None, ref: str, why: str, now) -> int:
    if entry is None or existing_refs(balance=topup.balance, kind=LedgerEntry.Kind.ADJUSTMENT, refs=[ref]):
        return 0
    units = -entry.amount
    # Given back as units without expiry (unbacked): the pack's own units may have expired meanwhile.
    entries_append(
        balance=topup.balance,
        entries=[NewEntry(kind=LedgerEntry.Kind.ADJUSTMENT, amount=units, ref=ref, reason=f"{why}: {entry.ref}")],
        now=now,
    )
    Topup.objects.filter(pk=topup.pk).update(clawed_back_units=max(0, topup.clawed_back_units - units))
    return units


def extras_expire_due(*, now=None, limit: int = 1000) -> int:
    """The daily sweep: each top-up past `expires_at` gets one `expiration` entry for its remaining units only
    (what was consumed stays consumed), ref `expire-<topup id>`; a top-up with nothing left is just marked.
    Answers the number of top-ups swept."""
    now = now or timezone.now()
    due = list(
        Topup.objects.filter(expired_at__isnull=True, expires_at__lte=now)
        .order_by("balance_id", "id")
        .values_list("balance__account_id", "pk")[:limit]
    )
    by_account: dict = {}
    for account_id, pk in due:
        by_account.setdefault(account_id, []).append(pk)
    swept = 0
    for account_id, pks in by_account.items():
        with transaction.atomic():
            balance = balance_locked(account_id=account_id)
            topups = list(Topup.objects.select_for_update().filter(pk__in=pks, expired_at__isnull=True))
            entries = [
                NewEntry(
                    kind=LedgerEntry.Kind.EXPIRATION,
                    amount=-t.remaining_units,
                    ref=f"expire-{t.pk}",
                    reason=f"pack {t.pack_id} expired",
                    topup=t,
                )
                for t in topups
                if t.remaining_units > 0
            ]
            entries_append(balance=balance, entries=entries, now=now)
            Topup.objects.filter(pk__in=[t.pk for t in topups]).update(expired_at=now)
            swept += len(topups)
    return swept


def extras_adjust(*, account_id, amount: int, reason: str, ref: str, created_by=None, now=None) -> LedgerEntry | None:
    """A staff adjustment (≠ 0, with a reason; `ref` its idempotency key: the same ref twice writes once).
    Negative adjustments draw from the top-ups like a debit. Answers the entry, or None if the ref was used."""
    if not reason or not reason.strip():
        raise InvalidInput("An adjustment needs a reason.", code="missing_reason")
    with transaction.atomic():
        balance = balance_locked(account_id=account_id)
        if existing_refs(balance=balance, kind=LedgerEntry.Kind.ADJUSTMENT, refs=[ref]):
            return None
        (entry,) = entries_append(
            balance=balance,
            entries=[
                NewEntry(
                    kind=LedgerEntry.Kind.ADJUSTMENT,
                    amount=amount,
                    ref=ref,
                    reason=reason.strip(),
                    created_by_id=getattr(created_by, "pk", None),
                )
            ],
            now=now,
        )
        return entry


def extras_debit(*, account_id, units: int, ref: str, now=None) -> LedgerEntry | None:
    """A debit outside attribution (positive `units`, non-empty ref; never blocked by the balance, which may go
    negative). None if the ref was debited already."""
    if units <= 0:
        raise InvalidInput("A debit is a positive number of units.", code="bad_amount")
    with transaction.atomic():
        balance = balance_locked(account_id=account_id)
        if existing_refs(balance=balance, kind=LedgerEntry.Kind.DEBIT, refs=[ref]):
            return None
        (entry,) = entries_append(
            balance=balance, entries=[NewEntry(kind=LedgerEntry.Kind.DEBIT, amount=-units, ref=ref)], now=now
        )
        return entry


def balance_ensure(*, account_id) -> ExtrasBalance:
    balance, _ = ExtrasBalance.objects.get_or_create(account_id=account_id)
    return balance
