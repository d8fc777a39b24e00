"""The default plan exists after `migrate`, and every account that existed before plans is on it."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def create_default_plan(apps, schema_editor):
    Plan = apps.get_model("plans", "Plan")
    PlanVersion = apps.get_model("plans", "PlanVersion")
    AccountSubscription = apps.get_model("plans", "AccountSubscription")
    Account = apps.get_model("accounts", "Account")
    plan, _ = Plan.objects.get_or_create(
        slug=settings.PLANS_DEFAULT_SLUG, defaults={"name": settings.PLANS_DEFAULT_NAME, "public": True}
    )
    version = PlanVersion.objects.filter(plan=plan, active=True).first()
    if version is None:
        version = PlanVersion.objects.create(
            plan=plan,
            version=1,
            weekly_quota=settings.PLANS_DEFAULT_WEEKLY_QUOTA,
            ratios={"default": "1"},
            effective_from=timezone.now(),
        )
    missing = Account.objects.exclude(pk__in=AccountSubscription.objects.values("account_id")).values_list("pk", flat=True)
    AccountSubscription.objects.bulk_create(
        [AccountSubscription(account_id=pk, plan=plan, plan_version=version) for pk in missing.iterator()],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial")]

    operations = [migrations.RunPython(create_default_plan, migrations.RunPython.noop)]
