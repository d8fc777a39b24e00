"""`manage.py metering_ledger_check`: every extras balance against its ledger. Exit 0 when each cached balance
equals the sum of its entries (and its top-ups' remaining units plus its unbacked units), else 1 and one line per
difference."""

import json

from django.core.management.base import BaseCommand

from metering.selectors.checks import ledger_differences
from metering.services.checks import ledger_check_record


class Command(BaseCommand):
    help = "Checks that every extras balance equals the sum of its ledger entries (exit 1 on a difference)."

    def handle(self, *args, **options):
        problems = ledger_differences()
        ledger_check_record(problems)  # logged, and recorded for /metrics
        for problem in problems:
            self.stderr.write(json.dumps(problem))
        if problems:
            self.stderr.write(f"{len(problems)} extras balance(s) differ from their ledger.")
            raise SystemExit(1)
        self.stdout.write("Every extras balance equals the sum of its ledger entries.")
