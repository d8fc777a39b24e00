"""Sync resources remember when their message was sent (the sync sweeper re-sends lost ones); the beat rows name
the tasks by their explicit names (billing/tasks.py), and the sync sweeper gets its schedule."""

from django.db import migrations, models

# PeriodicTask.task: the old (module path) name and the explicit one.
RENAMED = {"billing.tasks.sweep_webhook_events": "billing.sweep_webhook_events"}
SYNC_SWEEPER = "billing: sweep sync runs"


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for old, new in RENAMED.items():
        PeriodicTask.objects.filter(task=old).update(task=new)
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=SYNC_SWEEPER,
        defaults={
            "task": "billing.sweep_sync_runs",
            "interval": every_minute,
            "enabled": True,
            "description": "Queues again the sync resources whose Celery message was lost, and fails the sync "
            "runs that made no progress for BILLING_SYNC_STALE_MINUTES.",
        },
    )
    _touch_schedule(apps)


def backwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=SYNC_SWEEPER).delete()
    for old, new in RENAMED.items():
        PeriodicTask.objects.filter(task=new).update(task=old)
    _touch_schedule(apps)


def _touch_schedule(apps):
    # A running beat re-reads its schedule only when PeriodicTasks.last_update moves (update() sends no signal).
    from django.utils import timezone

    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0002_webhook_sweeper_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncresource",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(forwards, backwards),
    ]
