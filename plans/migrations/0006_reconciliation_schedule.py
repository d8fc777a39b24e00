"""The reconciliation beat: weekly, Sunday 03:00 UTC, in the database so staff can change or pause it."""

from django.db import migrations

from core.beat_schedule import BEAT_MIGRATION, Beat, schedule_operation


class Migration(migrations.Migration):
    dependencies = [("plans", "0005_dunning_schedule"), BEAT_MIGRATION]

    operations = [
        schedule_operation(
            Beat(
                "plans: reconciliation",
                "plans.run_reconciliation",
                "Our account subscriptions compared with the platform's Stripe; differences recorded as divergences, "
                "nothing changed (issue 16).",
                crontab={"minute": "0", "hour": "3", "day_of_week": "0"},
            )
        )
    ]
