"""Webhook events from both Stripe relationships (SPEC §0, §3): stored once, processed by workers, kept on
failure.

A row is the unit of exactly-once: its unique constraints make a duplicate delivery an IntegrityError at
insert, and its status moves only through conditional UPDATEs (billing/webhooks/processing.py), so a handler
never runs twice for one event, however many deliveries and workers race."""

from django.db import models
from django.db.models import Q

from accounts.models import Account
from accounts.querysets import AccountScopedQuerySet
from billing.relationships import Relationship


class WebhookEventQuerySet(AccountScopedQuerySet):
    def dead_letters(self):
        return self.filter(status=WebhookEvent.Status.DEAD)


class WebhookEvent(models.Model):
    Relationship = Relationship

    class Status(models.TextChoices):
        PENDING = "pending"  # stored, waiting for a worker
        PROCESSING = "processing"  # claimed by a worker (see claimed_at: the lease)
        PROCESSED = "processed"  # its handler's effect is committed
        FAILED = "failed"  # the last attempt raised; a retry is scheduled at next_attempt_at
        DEAD = "dead"  # a dead letter: out of attempts, waits for staff (replay or purge)
        IGNORED = "ignored"  # no handler for this type on this relationship

    stripe_event_id = models.CharField(max_length=255)
    relationship = models.CharField(max_length=10, choices=Relationship.choices)
    # Set for every account event; empty for platform events (their handlers find the account themselves).
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=100)
    api_version = models.CharField(max_length=40, blank=True, default="")
    livemode = models.BooleanField(default=False)
    # Stripe's `created` (unix seconds): with the event id, the order key of the ordering guard.
    created = models.BigIntegerField()
    object_id = models.CharField(max_length=255, blank=True, default="")
    object_type = models.CharField(max_length=60, blank=True, default="")
    payload = models.JSONField()

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_traceback = models.TextField(blank=True, default="")
    received_at = models.DateTimeField()
    # When a worker claimed it: a claim older than the lease is presumed lost and may be taken again.
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # When the sweeper looks at it again if no Celery message did (a lost message must not lose an event).
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookEventQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        # Staff operations on our billing of accounts (SPEC §1, §9): dead letters, replays, the admin toolkit API.
        permissions = [("billing_admin_ops", "Can use the billing admin toolkit API")]
        constraints = [
            # The same Stripe event is stored once per relationship (and per account on the account side:
            # two accounts may connect one Stripe account, each keeps its own mirror).
            models.UniqueConstraint(
                fields=["account", "stripe_event_id"],
                condition=Q(relationship="account"),
                name="webhook_event_unique_account_event",
            ),
            models.UniqueConstraint(
                fields=["stripe_event_id"],
                condition=Q(relationship="platform"),
                name="webhook_event_unique_platform_event",
            ),
            models.CheckConstraint(
                condition=Q(relationship="platform") | Q(account__isnull=False),
                name="webhook_event_account_relationship_has_account",
            ),
        ]
        indexes = [
            # The sweeper's scan: events waiting for a worker, by due time.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_event_due_idx",
                condition=Q(status__in=["pending", "failed", "processing"]),
            ),
            models.Index(fields=["status", "-received_at"], name="webhook_event_status_idx"),
            models.Index(fields=["account", "object_id"], name="webhook_event_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_event_id} {self.type} ({self.relationship}, {self.status})"


class WebhookBackfill(models.Model):
    """How far Stripe's Events API has been checked for events we lack, per source: the platform (no account) or
    an account's own Stripe (billing/webhooks/backfill.py). The next run lists from `checked_through` less an
    overlap, so a window once checked is not listed again, and a run that failed leaves it where it was."""

    relationship = models.CharField(max_length=10, choices=Relationship.choices)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_backfills"
    )
    checked_through = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_listed = models.PositiveIntegerField(default=0)
    last_fed = models.PositiveIntegerField(default=0)
    total_fed = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(relationship="account"), name="webhook_backfill_unique_account"
            ),
            models.UniqueConstraint(
                fields=["relationship"], condition=Q(relationship="platform"), name="webhook_backfill_unique_platform"
            ),
            models.CheckConstraint(
                condition=(Q(relationship="platform") & Q(account__isnull=True))
                | (Q(relationship="account") & Q(account__isnull=False)),
                name="webhook_backfill_account_matches_relationship",
            ),
        ]

    def __str__(self) -> str:
        return f"backfill {self.relationship} {self.account_id or ''}".strip()
