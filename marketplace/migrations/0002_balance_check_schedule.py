"""The daily OneBalance ledger check (05:10 UTC): its result is what /metrics reports as
billing_ledger_check_ok{check="onebalance_ledger"} (docs/observability.md)."""

from django.db import migrations

from core.beat_schedule import BEAT_MIGRATION, Beat, schedule_operation


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_initial"), BEAT_MIGRATION]

    operations = [
        schedule_operation(
            Beat(
                "marketplace: OneBalance check",
                "marketplace.check_balances",
                "Every OneBalance against the sum of its ledger entries; differences logged as errors and reported "
                "by /metrics. Nothing is changed.",
                crontab={"minute": "10", "hour": "5"},
            )
        )
    ]
