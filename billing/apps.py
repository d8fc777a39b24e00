from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Webhook handlers register themselves on import (see billing/stripe/handlers.py).
        from billing import checks  # noqa: F401
