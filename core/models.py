"""What core keeps in the database: the last result of each consistency check, for /metrics and its alerts."""

from django.db import models


class CheckResult(models.Model):
    """The outcome of the last run of one check (core/check_results.py): whether it passed, how many problems it
    found, and when. One row per check, overwritten at each run; the checks themselves live in their apps
    (metering's `metering_ledger_check`, marketplace's `check_balances`)."""

    name = models.CharField(max_length=60, unique=True)
    ok = models.BooleanField()
    problems = models.PositiveIntegerField(default=0)
    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {'ok' if self.ok else f'{self.problems} problem(s)'} at {self.checked_at:%Y-%m-%d %H:%M}"
