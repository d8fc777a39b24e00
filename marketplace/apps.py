from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Listeners on the account's payment events (billing's handlers keep the mirror; these fulfil purchases
        # and credit top-ups in the same savepoint): billing/webhooks/registry.py, `listens`.
        from marketplace import listeners  # noqa: F401
