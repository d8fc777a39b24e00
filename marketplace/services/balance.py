"""Usage debits and staff adjustments of a sub-account's OneBalance (docs/marketplace.md, "OneBalance")."""

import uuid
from dataclasses import dataclass

from django.db import transaction

from core.errors import Conflict, InvalidInput
from marketplace.errors import InsufficientBalance
from marketplace.models import LedgerEntry
from marketplace.roles import require_sub_account
from marketplace.services.ledger import balance_locked, ledger_append


@dataclass(frozen=True)
class UsageOutcome:
    entry: LedgerEntry
    applied: bool  # False: this usage key was applied before; `entry` is that debit
    balance: int


def usage_ref(usage_key: str) -> str:
    return f"usage:{usage_key}"


def usage_debit(*, account, amount: int, usage_key: str, description: str = "") -> UsageOutcome:
    """Debits `amount` (minor units of the balance's currency, > 0) once per `usage_key`. The balance row is
    locked first, so the check and the debit see the same balance and a replay of the key sees the first debit.
    Raises InsufficientBalance (402) with nothing written when the balance cannot cover it, Conflict (409)
    `usage_key_reused` for the key with another amount."""
    if amount <= 0:
        raise InvalidInput("amount must be a positive number of minor units.")
    agency = require_sub_account(account)
    ref = usage_ref(usage_key)
    with transaction.atomic():
        balance = balance_locked(account=account, agency=agency)
        earlier = LedgerEntry.objects.filter(balance=balance, ref=ref).first()
        if earlier is not None:
            if earlier.amount != -amount:
                raise Conflict(
                    f"usage_key {usage_key} was already applied with amount {-earlier.amount}: use a new key.",
                    code="usage_key_reused",
                )
            return UsageOutcome(entry=earlier, applied=False, balance=balance.amount)
        if balance.amount < amount:
            raise InsufficientBalance(
                f"The balance ({balance.amount} {balance.currency.upper()} in minor units) cannot cover this usage "
                f"({amount}). Top up first (POST /api/v1/billing/balance/top-ups/).",
                details={"balance": balance.amount, "amount": amount, "currency": balance.currency},
            )
        # The ref was looked up under the balance's lock: no savepoint needed around the insert.
        entry = ledger_append(
            balance=balance,
            kind=LedgerEntry.Kind.USAGE,
            amount=-amount,
            ref=ref,
            description=description,
            savepoint=False,
        )
        return UsageOutcome(entry=entry, applied=True, balance=balance.amount)


def balance_adjust(*, account, amount: int, description: str, user) -> LedgerEntry:
    """Staff's correction (the admin's form): any non-zero amount with its reason; may take the balance below
    zero (staff decide)."""
    if amount == 0:
        raise InvalidInput("An adjustment moves the balance: give a non-zero amount.")
    if not description.strip():
        raise InvalidInput("Say why: an adjustment needs a description.")
    agency = require_sub_account(account)
    with transaction.atomic():
        balance = balance_locked(account=account, agency=agency)
        return ledger_append(
            balance=balance,
            kind=LedgerEntry.Kind.ADJUSTMENT,
            amount=amount,
            ref=f"adjustment:{uuid.uuid4().hex}",
            description=description,
            created_by=user,
        )
