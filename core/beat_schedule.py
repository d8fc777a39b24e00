"""Beat rows written by data migrations: each app puts its schedule in django-celery-beat's tables (so staff can
change or pause it in the admin) with `schedule_operation(...)`, one RunPython that creates the rows and removes
them on reverse. Uses only `apps.get_model`, so a migration's behaviour does not depend on today's models."""

from dataclasses import dataclass, field

from django.db import migrations
from django.utils import timezone

# The last migration of django-celery-beat that these rows need (every schedule migration depends on it).
BEAT_MIGRATION = ("django_celery_beat", "0019_alter_periodictasks_options")


@dataclass(frozen=True)
class Beat:
    name: str  # unique: the PeriodicTask's name, shown to staff
    task: str  # the Celery task's registered name
    description: str
    crontab: dict = field(default_factory=dict)  # CrontabSchedule fields (minute, hour, day_of_week); UTC
    every: tuple[int, str] | None = None  # or an IntervalSchedule: (30, "seconds"), (1, "hours")


def schedule_operation(*beats: Beat) -> migrations.RunPython:
    def create(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        for beat in beats:
            PeriodicTask.objects.get_or_create(
                name=beat.name,
                defaults={"task": beat.task, "enabled": True, "description": beat.description, **_when(apps, beat)},
            )
        _touch(apps)

    def remove(apps, schema_editor):
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[b.name for b in beats]).delete()
        _touch(apps)

    return migrations.RunPython(create, remove)


def _when(apps, beat: Beat) -> dict:
    if beat.every is not None:
        every, period = beat.every
        interval, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(
            every=every, period=period
        )
        return {"interval": interval}
    fields = {"minute": "0", "hour": "0", "day_of_week": "*", **beat.crontab}
    crontab, _ = apps.get_model("django_celery_beat", "CrontabSchedule").objects.get_or_create(
        day_of_month="*", month_of_year="*", timezone="UTC", **fields
    )
    return {"crontab": crontab}


def _touch(apps) -> None:
    # A running beat re-reads its schedule only when PeriodicTasks.last_update moves.
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )
