from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "metering"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Metering (usage weeks and the extras ledger)"

    def ready(self) -> None:
        # The platform's webhook handlers (credit packs, refunds, disputes) and the week rotation on a plan change.
        from metering import handlers  # noqa: F401
        from metering.services.weeks import usage_week_rotate_plan
        from plans.hooks import on_plan_change

        on_plan_change(usage_week_rotate_plan)
