"""Metering's beat schedule, in the database so staff can change or pause it in the admin: the weekly reset on
Monday 00:00 UTC, the daily expiration sweep, and the weekly check of last week's overflow against the ledger."""

from django.db import migrations

SCHEDULES = [
    # (name, task, crontab fields, description)
    (
        "metering: weekly reset",
        "metering.reset_due_weeks",
        {"minute": "0", "hour": "0", "day_of_week": "1"},
        "Opens every due account's new usage week (METERING.md, Weekly reset). Safe to run twice.",
    ),
    (
        "metering: expire top-ups",
        "metering.expire_topups",
        {"minute": "15", "hour": "0", "day_of_week": "*"},
        "Expires the remaining units of credit packs past their expiry date (daily).",
    ),
    (
        "metering: weekly check",
        "metering.check_weeks",
        {"minute": "0", "hour": "2", "day_of_week": "1"},
        "Last week's overflow against the extras debited for it; divergences logged as errors.",
    ),
]


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, fields, description in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            day_of_month="*", month_of_year="*", timezone="UTC", **fields
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "enabled": True, "description": description}
        )
    _touch_schedule(apps)


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in SCHEDULES]).delete()
    _touch_schedule(apps)


def _touch_schedule(apps):
    # A running beat re-reads its schedule only when PeriodicTasks.last_update moves.
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("metering", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
