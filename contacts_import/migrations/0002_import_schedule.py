"""The import beat: every 30 seconds (the seed's schedule), in the database so staff can change or pause it."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "contacts_import: sweep import jobs"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "contacts_import.sweep_import_jobs",
            "interval": every_30s,
            "enabled": True,
            "description": "Queues the contact imports a worker may take: pending and due, or abandoned by a dead "
            "worker (SPEC §6).",
        },
    )
    # A running beat re-reads its schedule only when PeriodicTasks.last_update moves.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("contacts_import", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
