"""The daily extras ledger check (05:00 UTC): its result is what /metrics reports as
billing_ledger_check_ok{check="metering_ledger"} (docs/observability.md)."""

from django.db import migrations

from core.beat_schedule import BEAT_MIGRATION, Beat, schedule_operation


class Migration(migrations.Migration):
    dependencies = [("metering", "0002_beat_schedule"), BEAT_MIGRATION]

    operations = [
        schedule_operation(
            Beat(
                "metering: ledger check",
                "metering.check_ledger",
                "Every extras balance against the sum of its ledger entries; differences logged as errors and "
                "reported by /metrics. Nothing is changed.",
                crontab={"minute": "0", "hour": "5"},
            )
        )
    ]
