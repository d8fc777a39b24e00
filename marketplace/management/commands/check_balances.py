"""Proves every OneBalance: the cached amount equals the sum of its ledger entries. Exits 1 listing each
difference, 0 when all agree."""

from django.core.management.base import BaseCommand, CommandError

from core.check_results import ONEBALANCE_LEDGER, record_check
from marketplace.selectors.balance import balances_mismatched


class Command(BaseCommand):
    help = "Check that every OneBalance equals the sum of its ledger entries (exit 1 on a difference)."

    def handle(self, *args, **options):
        wrong = balances_mismatched()
        record_check(ONEBALANCE_LEDGER, len(wrong))  # for /metrics: billing_ledger_check_ok{check="onebalance_ledger"}
        for balance in wrong:
            self.stderr.write(
                f"balance {balance.pk} ({balance.account_id}): cached {balance.amount} != entries "
                f"{balance.entries_total} {balance.currency}"
            )
        if wrong:
            raise CommandError(f"{len(wrong)} balance(s) differ from the sum of their entries.")
        self.stdout.write("All balances equal the sum of their entries.")
