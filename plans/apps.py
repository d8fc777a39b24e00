from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Plans (our billing of accounts)"

    def ready(self) -> None:
        # Every account has its AccountSubscription from its creation on (the default plan, no Stripe call).
        from plans import handlers, receivers  # noqa: F401  (the platform's webhook handlers register here)
