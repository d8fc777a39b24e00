"""The account's own Stripe (SPEC §0, §2): its credentials, encrypted, and the state of its mirror."""

from django.conf import settings
from django.db import models

from billing.models.accounts import Account
from billing.models.base import AccountScopedQuerySet
from billing.secrets import EncryptedSecretField


class StripeConnection(models.Model):
    class AuthMode(models.TextChoices):
        SECRET_KEY = "secret_key"
        CONNECT = "connect"

    class Status(models.TextChoices):
        SYNCING = "syncing"
        READY = "ready"
        FAILED = "failed"
        DISCONNECTED = "disconnected"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="stripe_connection")
    auth_mode = models.CharField(max_length=12, choices=AuthMode.choices)
    # The account's secret key, or its Connect OAuth access token. Encrypted at rest, never serialised.
    secret_key = EncryptedSecretField(null=True, blank=True)
    # Connect: the connected account id, sent as the Stripe-Account header.
    stripe_user_id = models.CharField(max_length=64, blank=True, default="")
    webhook_secret = EncryptedSecretField(null=True, blank=True)
    stripe_account_id = models.CharField(max_length=64, blank=True, default="")
    livemode = models.BooleanField(default=False)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.SYNCING)
    status_reason = models.TextField(blank=True, default="")
    initialized = models.BooleanField(default=False)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Stripe connection of {self.account_id} ({self.status})"

    @property
    def is_usable(self) -> bool:
        return self.status != self.Status.DISCONNECTED and bool(self.secret_key)
