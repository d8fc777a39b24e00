"""The OneBalance ledger: append an entry and move the cached balance with it, in one transaction, under a lock
on the balance row (the one lock order: balance row, then entry). The entry's unique ref makes a second apply
of the same thing an IntegrityError, which callers read as "already done"."""

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.notifications import notify_account
from marketplace.models import Balance, LedgerEntry
from marketplace.rates import base_currency


def balance_locked(*, account, agency) -> Balance:
    """The account's balance row, created on first need, locked until the surrounding transaction ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("balance_locked() must run inside transaction.atomic()")
    balance = Balance.objects.select_for_update().filter(account=account).first()
    if balance is not None:
        return balance
    try:
        with transaction.atomic():
            Balance.objects.create(account=account, agency=agency, currency=base_currency())
    except IntegrityError:
        pass  # created by a concurrent first entry
    return Balance.objects.select_for_update().get(account=account)


def ledger_append(
    *, balance: Balance, kind: str, amount: int, ref: str, description: str = "", savepoint: bool = True, **fields
) -> LedgerEntry:
    """Appends to a balance locked by `balance_locked` and moves its cached amount by the same `amount`. Raises
    IntegrityError when `ref` is already applied, or when the sign does not fit the kind (a database check): in
    its own savepoint, so the caller's transaction goes on, unless the caller has already looked the ref up under
    the lock (`savepoint=False`: two round trips fewer on the hot path of usage debits)."""
    with transaction.atomic(savepoint=savepoint):
        entry = LedgerEntry.objects.create(
            balance=balance, kind=kind, amount=amount, ref=ref, description=description[:500], **fields
        )
        Balance.objects.filter(pk=balance.pk).update(amount=F("amount") + amount)
    # The row is locked by this transaction and was read under the lock: its new amount is known without a read.
    balance.amount += amount
    notify_account(
        balance.account_id,
        "balance_updated",
        {
            "balance": balance.amount,
            "currency": balance.currency,
            "entry": {"id": entry.pk, "kind": kind, "amount": amount, "ref": ref},
        },
    )
    return entry
