from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The account's webhook handlers register themselves on import (billing/webhooks/registry.py); other
        # apps register theirs from their own ready() the same way. The registry imports no app.
        from billing import handlers  # noqa: F401
