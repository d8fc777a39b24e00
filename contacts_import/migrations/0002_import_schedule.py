"""The import beat: every 30 seconds (the seed's schedule), in the database so staff can change or pause it."""

from django.db import migrations

from core.beat_schedule import BEAT_MIGRATION, Beat, schedule_operation


class Migration(migrations.Migration):
    dependencies = [("contacts_import", "0001_initial"), BEAT_MIGRATION]

    operations = [
        schedule_operation(
            Beat(
                "contacts_import: sweep import jobs",
                "contacts_import.sweep_import_jobs",
                "Queues the contact imports a worker may take: pending and due, or abandoned by a dead worker "
                "(SPEC §6).",
                every=(30, "seconds"),
            )
        )
    ]
