"""Metering's beat schedule, in the database so staff can change or pause it in the admin: the weekly reset on
Monday 00:00 UTC, the daily expiration sweep, and the weekly check of last week's overflow against the ledger."""

from django.db import migrations

from core.beat_schedule import BEAT_MIGRATION, Beat, schedule_operation


class Migration(migrations.Migration):
    dependencies = [("metering", "0001_initial"), BEAT_MIGRATION]

    operations = [
        schedule_operation(
            Beat(
                "metering: weekly reset",
                "metering.reset_due_weeks",
                "Opens every due account's new usage week (METERING.md, Weekly reset). Safe to run twice.",
                crontab={"minute": "0", "hour": "0", "day_of_week": "1"},
            ),
            Beat(
                "metering: expire top-ups",
                "metering.expire_topups",
                "Expires the remaining units of credit packs past their expiry date (daily).",
                crontab={"minute": "15", "hour": "0"},
            ),
            Beat(
                "metering: weekly check",
                "metering.check_weeks",
                "Last week's overflow against the extras debited for it; divergences logged as errors.",
                crontab={"minute": "0", "hour": "2", "day_of_week": "1"},
            ),
        )
    ]
