from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Accounts (tenants), memberships, JWT auth and tenancy: the one membership check (accounts/selectors.py)."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from accounts import notifications
        from accounts.models import Account, Membership

        # Open websockets re-check their session when what it rests on changes (accounts/notifications.py).
        post_delete.connect(notifications.on_membership_deleted, sender=Membership, dispatch_uid="ws-membership")
        post_save.connect(notifications.on_account_saved, sender=Account, dispatch_uid="ws-account")
        post_save.connect(notifications.on_user_saved, sender=get_user_model(), dispatch_uid="ws-user")
