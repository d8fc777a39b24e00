"""The extras ledger (METERING.md "Extras ledger"): kinds and signs in the database, unique (kind, ref), FIFO
consumption by expiry, expiry of the remainder only, staff adjustments, and the ledger check."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import InvalidInput
from metering.models import Consumption, ExtrasBalance, LedgerEntry
from metering.services.extras import extras_adjust, extras_debit, extras_expire_due
from tests.metering.conftest import attribute, units
from tests.metering.helpers import remaining, topup

pytestmark = pytest.mark.django_db


def balance_of(account) -> int:
    return ExtrasBalance.objects.get(account=account).cached_balance


@pytest.mark.parametrize(
    ("kind", "amount", "reason"),
    [
        ("topup", -5, ""),
        ("topup", 0, ""),
        ("debit", 5, ""),
        ("refund", 5, ""),
        ("expiration", 1, ""),
        ("adjustment", 0, "why"),
        ("adjustment", 5, ""),  # staff adjustments carry a reason
        ("debit", 0, ""),
    ],
)
def test_the_database_refuses_a_wrong_sign_or_zero(account, kind, amount, reason):
    balance = ExtrasBalance.objects.create(account=account)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            balance=balance, kind=kind, amount=amount, ref="r", reason=reason, created_at=timezone.now()
        )


def test_the_database_refuses_a_second_entry_of_the_same_kind_and_ref(account):
    balance = ExtrasBalance.objects.create(account=account)
    now = timezone.now()
    LedgerEntry.objects.create(balance=balance, kind="debit", amount=-1, ref="r", created_at=now)
    LedgerEntry.objects.create(balance=balance, kind="refund", amount=-1, ref="r", created_at=now)  # another kind
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(balance=balance, kind="debit", amount=-2, ref="r", created_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(balance=balance, kind="debit", amount=-2, ref="", created_at=now)
    # Rows written by hand here: bring the cached balance in line so the ledger check after the test holds.
    ExtrasBalance.objects.filter(pk=balance.pk).update(cached_balance=-2, unbacked_units=-2)


def test_a_debit_is_positive_with_a_ref_never_blocked_by_the_balance_and_once_per_ref(account):
    with pytest.raises(InvalidInput):
        extras_debit(account_id=account.pk, units=0, ref="x")
    with pytest.raises(InvalidInput):
        extras_debit(account_id=account.pk, units=5, ref="")
    assert extras_debit(account_id=account.pk, units=5, ref="x").amount == -5
    assert extras_debit(account_id=account.pk, units=5, ref="x") is None
    assert balance_of(account) == -5


def test_debits_consume_top_ups_first_to_expire_then_oldest(account):
    late = topup(account, 100, days=60)
    early = topup(account, 100, days=10)
    same_day_newer = topup(account, 100, days=10)
    extras_debit(account_id=account.pk, units=150, ref="d1")
    assert (remaining(early), remaining(same_day_newer), remaining(late)) == (0, 50, 100)
    entry = LedgerEntry.objects.get(ref="d1")
    assert sorted(Consumption.objects.filter(entry=entry).values_list("topup_id", "units")) == sorted(
        [(early.pk, 100), (same_day_newer.pk, 50)]
    )
    assert balance_of(account) == 150


def test_overflow_debits_consume_top_ups(account, pro):
    pack = topup(account, 50)
    attribute(account, "a", units(130))  # 30 past the quota
    assert remaining(pack) == 20
    assert balance_of(account) == 20


def test_a_top_up_first_settles_a_negative_balance(account):
    extras_debit(account_id=account.pk, units=30, ref="d")
    pack = topup(account, 100)
    assert remaining(pack) == 70
    assert balance_of(account) == 70
    # What it settled is not its to expire: only the 70 left would be.


def test_expiry_takes_only_the_unconsumed_remainder_of_a_partly_used_top_up(account):
    bought = timezone.now() - timedelta(days=40)
    pack = topup(account, 100, days=30, now=bought)  # expired ten days ago
    fresh = topup(account, 100, days=300)
    extras_debit(account_id=account.pk, units=60, ref="used-before-expiry", now=bought + timedelta(days=1))
    assert remaining(pack) == 40 and balance_of(account) == 140
    assert extras_expire_due() == 1
    expiration = LedgerEntry.objects.get(kind="expiration")
    assert (expiration.amount, expiration.ref) == (-40, f"expire-{pack.pk}")
    assert remaining(pack) == 0 and remaining(fresh) == 100
    assert balance_of(account) == 100
    assert extras_expire_due() == 0  # once
    assert LedgerEntry.objects.filter(kind="expiration").count() == 1


def test_a_debit_after_expiry_does_not_draw_from_the_expired_pack(account):
    pack = topup(account, 100, days=30, now=timezone.now() - timedelta(days=31))
    extras_debit(account_id=account.pk, units=10, ref="d")
    assert remaining(pack) == 100  # left for the sweep to expire
    extras_expire_due()
    assert balance_of(account) == -10


def test_a_fully_used_top_up_expires_without_an_entry(account):
    pack = topup(account, 10, days=1, now=timezone.now() - timedelta(days=2))
    extras_debit(account_id=account.pk, units=10, ref="d", now=timezone.now() - timedelta(days=2))
    assert extras_expire_due() == 1
    assert not LedgerEntry.objects.filter(kind="expiration").exists()
    assert remaining(pack) == 0


def test_a_staff_adjustment_needs_a_reason_is_not_zero_and_is_written_once(account, admin_user):
    with pytest.raises(InvalidInput):
        extras_adjust(account_id=account.pk, amount=5, reason=" ", ref="a1")
    with pytest.raises(InvalidInput):
        extras_adjust(account_id=account.pk, amount=0, reason="goodwill", ref="a1")
    entry = extras_adjust(account_id=account.pk, amount=50, reason="goodwill", ref="a1", created_by=admin_user)
    assert (entry.kind, entry.amount, entry.created_by) == ("adjustment", 50, admin_user)
    assert extras_adjust(account_id=account.pk, amount=50, reason="goodwill", ref="a1") is None
    extras_adjust(account_id=account.pk, amount=-20, reason="correction", ref="a2")
    assert balance_of(account) == 30


def check() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("metering_ledger_check", stdout=out, stderr=err)
    except SystemExit as exit_:
        return exit_.code, err.getvalue()
    return 0, out.getvalue()


def test_the_ledger_check_passes_on_a_ledger_written_by_the_services(account, pro):
    topup(account, 100)
    attribute(account, "a", units(150))
    extras_adjust(account_id=account.pk, amount=-3, reason="x", ref="a")
    code, out = check()
    assert code == 0, out


@pytest.mark.ledger_tampered
def test_the_ledger_check_fails_on_a_tampered_balance(account):
    topup(account, 100)
    ExtrasBalance.objects.filter(account=account).update(cached_balance=101)
    code, err = check()
    assert code == 1
    assert str(account.pk) in err and '"sum_of_entries": 100' in err


@pytest.mark.ledger_tampered
def test_the_ledger_check_fails_when_top_ups_do_not_account_for_the_balance(account):
    pack = topup(account, 100)
    type(pack).objects.filter(pk=pack.pk).update(remaining_units=90)
    assert check()[0] == 1
