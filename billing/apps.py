from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from billing import checks  # noqa: F401
        from billing.db import psycopg_arrays

        connection_created.connect(psycopg_arrays.install, dispatch_uid="billing.psycopg_arrays")

        # Webhook handlers register themselves on import (see billing/stripe/handlers.py). Platform handlers
        # (our billing of accounts) live with the code they drive and are imported from there the same way.
        from billing.stripe import account_events  # noqa: F401
