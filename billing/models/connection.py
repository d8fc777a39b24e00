"""The account's own Stripe (SPEC §0, §2): its credentials, encrypted, and the state of its mirror."""

from django.conf import settings
from django.db import models

from accounts.models import Account
from accounts.querysets import AccountScopedQuerySet
from core.secrets import EncryptedSecretField


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


class SyncRun(models.Model):
    """One full pass over the account's Stripe (the initial sync, or a re-sync). At most one runs per account:
    a partial unique constraint makes a second start an IntegrityError rather than a race."""

    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    class Kind(models.TextChoices):
        INITIAL = "initial"
        RESYNC = "resync"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sync_runs")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RESYNC)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    reason = models.TextField(blank=True, default="")  # why it failed
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(status="running"),
                name="syncrun_one_running_per_account",
            )
        ]
        indexes = [models.Index(fields=["account", "started_at"], name="bl_syncrun_acct_started")]

    def __str__(self) -> str:
        return f"Sync {self.pk} of {self.account_id} ({self.status})"


class SyncResource(models.Model):
    """One resource (customers, charges, ...) of a sync run: its own Celery task, its cursor and its progress.

    The cursor is saved in the same transaction as the page it follows, so a retried or redelivered task goes
    on from the last page written. `pass_id` / `pass_started_at` name the full pass the rows are stamped with:
    a run that resumes a failed run's resource inherits them, so deletions are still judged on one complete
    pass."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="resources")
    resource = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    cursor = models.JSONField(default=dict, blank=True)
    synced = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    pass_id = models.BigIntegerField(null=True, blank=True)
    pass_started_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When its task's message was sent (or, for a retry, is due): a resource still pending well after that lost
    # its message, and the sweeper (sync_runs_sweep) sends another. Null: not queued yet (waiting for another).
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "resource"], name="syncresource_unique_per_run")]

    def __str__(self) -> str:
        return f"{self.resource} of sync {self.run_id} ({self.status})"
