"""Our billing of accounts (SPEC §0, §7; METERING.md "Plans"): the platform's catalogue and each account's
subscription to it. Nothing here describes an account's own Stripe (that is billing's mirror)."""

from django.db import models
from django.db.models import Q

from accounts.models import Account


class Plan(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    # A public plan is offered to accounts at checkout; a private one is assigned by staff.
    public = models.BooleanField(default=True)
    stripe_product_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class PlanVersion(models.Model):
    """Immutable once written: a change is a new version (plans/services/versions.py), never an update of this one
    (usage weeks snapshot the version in force when they open)."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    weekly_quota = models.PositiveIntegerField(help_text="Meter units per ISO week.")
    # Cost ratio per category, decimals as strings ({"gpu": "2.5", "default": "1"}): METERING.md "Costs → units".
    ratios = models.JSONField(default=dict, blank=True)
    stripe_price_month = models.CharField(max_length=255, blank=True, default="")
    stripe_price_year = models.CharField(max_length=255, blank=True, default="")
    effective_from = models.DateTimeField()
    effective_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan__slug", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "version"], name="plan_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="plan_version_positive"),
            # A bump deactivates the previous version in the same transaction as it inserts the next one.
            models.UniqueConstraint(fields=["plan"], condition=Q(active=True), name="plan_one_active_version"),
        ]
        indexes = [
            models.Index(fields=["stripe_price_month"], name="plan_version_price_month"),
            models.Index(fields=["stripe_price_year"], name="plan_version_price_year"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.slug} v{self.version}"


class AccountSubscription(models.Model):
    """One per account: which plan we bill it for, and the state of its subscription in the platform's Stripe."""

    class Status(models.TextChoices):
        # Stripe's subscription statuses; an account on the default plan without a Stripe subscription is active.
        ACTIVE = "active"
        TRIALING = "trialing"
        PAST_DUE = "past_due"
        UNPAID = "unpaid"
        CANCELED = "canceled"
        INCOMPLETE = "incomplete"
        INCOMPLETE_EXPIRED = "incomplete_expired"
        PAUSED = "paused"

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="platform_subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    plan_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    stripe_customer_id = models.CharField(max_length=255, blank=True, default="")
    stripe_subscription_id = models.CharField(max_length=255, blank=True, default="")
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    past_due_since = models.DateTimeField(null=True, blank=True)
    last_reset_at = models.DateTimeField(null=True, blank=True)
    # The last event applied per family (Stripe does not deliver in order): an event applies only when newer;
    # in the same second, the greater event id wins.
    last_subscription_event_created = models.DateTimeField(null=True, blank=True)
    last_subscription_event_id = models.CharField(max_length=255, blank=True, default="")
    last_invoice_event_created = models.DateTimeField(null=True, blank=True)
    last_invoice_event_id = models.CharField(max_length=255, blank=True, default="")
    # The Stripe price of the subscription when it maps to no plan version: the account stays on its last known
    # plan (never a silent downgrade) and staff see why here (and in the error log).
    unknown_price_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The weekly reset and dunning select by status and these dates.
            models.Index(fields=["status", "last_reset_at"], name="acct_sub_status_reset"),
            models.Index(fields=["status", "past_due_since"], name="acct_sub_status_past_due"),
            models.Index(fields=["stripe_customer_id"], name="acct_sub_customer"),
            models.Index(fields=["stripe_subscription_id"], name="acct_sub_subscription"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} on {self.plan_version}"


class PlatformRefund(models.Model):
    """A refund staff made of a platform charge (a plan invoice, an extras pack) through the toolkit
    (`POST /api/v1/admin/billing/refunds/`): the row is claimed before Stripe is called (`refund_request_id` unique),
    so the same id twice, even at once, refunds once; it records who asked and why, and what Stripe answered."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    request_id = models.CharField(max_length=255, unique=True)
    charge_id = models.CharField(max_length=255)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    amount = models.BigIntegerField(null=True, blank=True)  # minor units; null asked for what was left
    currency = models.CharField(max_length=3, blank=True, default="")
    reason = models.CharField(max_length=40)
    requested_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    refund_stripe_id = models.CharField(max_length=255, blank=True, default="")
    refunded_amount = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__isnull=True) | Q(amount__gt=0), name="platform_refund_amount")
        ]
        indexes = [models.Index(fields=["charge_id"], name="platform_refund_charge")]

    def __str__(self) -> str:
        return f"Platform refund {self.request_id} of {self.charge_id} ({self.status})"


class Divergence(models.Model):
    """A difference between our billing of accounts and the platform's Stripe (or metering's ledger), found by the
    weekly reconciliation or by dunning: recorded and logged, never corrected by itself; staff resolve it (a force
    sync from the admin)."""

    class Kind(models.TextChoices):
        SUBSCRIPTION = "subscription"  # our AccountSubscription vs Stripe's live subscription
        METER_EXTRAS = "meter_extras"  # extras debited in a week vs the week's overflow (METERING.md)
        DUNNING = "dunning"  # dunning could not move an account: a desync

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        AccountSubscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="divergences"
    )
    ours = models.JSONField(default=dict, blank=True)
    theirs = models.JSONField(default=dict, blank=True, help_text="Stripe's side (or metering's, for meter_extras).")
    fields = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "kind"], name="divergence_status_kind")]

    def __str__(self) -> str:
        return f"{self.kind} divergence of {self.account_id} ({self.status})"
