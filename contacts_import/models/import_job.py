"""One import of the account's Stripe customers into its contacts: what was asked (type, mappings, new_contact,
limit), where the run is (status, cursor, the worker holding it) and what it did (counts, problems)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.querysets import AccountScopedQuerySet
from contacts_import.models.contact import Contact

# Problems kept on the job for people to read; the counts stay exact beyond them, and the row stays small.
DETAILS_MAX = 1000


class ImportJob(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for a worker (new, handed over between slices, or waiting to retry Stripe)
        RUNNING = "running"  # claimed by one worker (claim_token), which moves `heartbeat_at` at every page
        COMPLETED = "completed"
        FAILED = "failed"  # failure_reason says why
        CANCELLED = "cancelled"

    FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    type = models.CharField(max_length=8, choices=Contact.Type.choices)
    # The mapping as validated and normalised (contacts_import/mapping.py): {stripe path: contact field}.
    mappings = models.JSONField(default=dict, blank=True)
    new_contact = models.BooleanField(default=False)
    limit = models.PositiveIntegerField(null=True, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.TextField(blank=True, default="")
    cancel_requested = models.BooleanField(default=False)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # Stripe failures in a row (reset by a page that succeeds)
    # The last Stripe customer id written: the next page starts after it, also after a crash.
    cursor = models.CharField(max_length=255, blank=True, default="")
    pages = models.PositiveIntegerField(default=0)

    processed = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    error_details = models.JSONField(default=list, blank=True)  # [{stripe_customer_id, email, reason}]
    skipped_details = models.JSONField(default=list, blank=True)  # the same shape: why a customer was left alone

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "created_at"], name="ci_job_acct_created"),
            # The beat's query: jobs a worker may take (pending, or running with a stale heartbeat).
            models.Index(fields=["status", "id"], condition=Q(status__in=["pending", "running"]), name="ci_job_open"),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.type}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
