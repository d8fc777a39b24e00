"""Recording a consistency check's result (core.models.CheckResult), so that /metrics can say whether the last
run passed and when it ran, without running the check at scrape time."""

from django.utils import timezone

from core.models import CheckResult

METERING_LEDGER = "metering_ledger"  # metering_ledger_check: extras balances against their ledger
ONEBALANCE_LEDGER = "onebalance_ledger"  # check_balances: OneBalances against their ledger


def record_check(name: str, problems: int) -> None:
    CheckResult.objects.update_or_create(
        name=name, defaults={"ok": problems == 0, "problems": problems, "checked_at": timezone.now()}
    )
