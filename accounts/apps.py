from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts (tenants), memberships, JWT auth and tenancy: the one membership check (accounts/selectors.py)."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
