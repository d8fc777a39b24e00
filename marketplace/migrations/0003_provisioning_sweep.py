"""The provisioning sweep (marketplace/services/fulfilment.py): an index on the purchases it reads, and its beat row
(every 5 minutes)."""

from django.db import migrations, models

from core.beat_schedule import BEAT_MIGRATION, Beat, schedule_operation


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0002_balance_check_schedule"), BEAT_MIGRATION]

    operations = [
        migrations.AddIndex(
            model_name="purchase",
            index=models.Index(
                condition=models.Q(("provisioned_at__isnull", True), ("status", "fulfilled")),
                fields=["fulfilled_at"],
                name="mk_purchase_unprovisioned",
            ),
        ),
        schedule_operation(
            Beat(
                "marketplace: requeue provisioning",
                "marketplace.requeue_provisioning",
                "Queues again the provisioning of fulfilled purchases still not provisioned after "
                "MARKETPLACE_PROVISION_GRACE_SECONDS (their message lived only in Redis).",
                every=(5, "minutes"),
            )
        ),
    ]
