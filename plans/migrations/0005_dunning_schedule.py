"""The dunning beat: daily at 04:00 UTC, in the database so staff can change or pause it."""

from django.db import migrations

from core.beat_schedule import BEAT_MIGRATION, Beat, schedule_operation


class Migration(migrations.Migration):
    dependencies = [("plans", "0004_staff_toolkit"), BEAT_MIGRATION]

    operations = [
        schedule_operation(
            Beat(
                "plans: dunning",
                "plans.run_dunning",
                "Account subscriptions past_due longer than BILLING_DUNNING_DAYS become unpaid, back on the default "
                "plan (issue 16).",
                crontab={"minute": "0", "hour": "4"},
            )
        )
    ]
