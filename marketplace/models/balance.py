"""OneBalance: a prepaid money balance per sub-account in BASE_CURRENCY, kept as an append-only ledger in minor
units. The cached `Balance.amount` moves in the same transaction as each entry, under a lock on the balance row;
`manage.py check_balances` proves cached = sum of entries."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Balance(models.Model):
    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="balance")
    agency = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(default=0)  # minor units of `currency`; the sum of the entries
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.account}: {self.amount} {self.currency}"


class LedgerEntry(models.Model):
    """Append-only: never updated or deleted (the admin is read-only; a correction is an `adjustment` entry).
    `ref` is unique per balance: the same top-up, usage key or refund applied twice is an IntegrityError."""

    class Kind(models.TextChoices):
        TOP_UP = "top_up"  # > 0: a payment Stripe confirmed
        USAGE = "usage"  # < 0: what the sub-account used
        REFUND = "refund"  # < 0: a refunded top-up's money leaves the balance
        ADJUSTMENT = "adjustment"  # ≠ 0: staff's correction, with its reason

    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.BigIntegerField()  # signed minor units of the balance's currency
    ref = models.CharField(max_length=255)
    description = models.CharField(max_length=500, blank=True, default="")
    # What was paid when it was another currency, and the rate that converted it (top-ups and their refunds).
    original_amount = models.BigIntegerField(null=True, blank=True)
    original_currency = models.CharField(max_length=3, blank=True, default="")
    rate = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    rate_source = models.CharField(max_length=100, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["balance", "-created_at", "-id"], name="mk_ledger_balance_newest")]
        constraints = [
            models.UniqueConstraint(fields=["balance", "ref"], name="mk_ledger_unique_ref"),
            models.CheckConstraint(
                condition=(
                    (Q(kind="top_up") & Q(amount__gt=0))
                    | (Q(kind="usage") & Q(amount__lt=0))
                    | (Q(kind="refund") & Q(amount__lt=0))
                    | (Q(kind="adjustment") & ~Q(amount=0))
                ),
                name="mk_ledger_sign_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.ref})"


class TopUp(models.Model):
    """A top-up by its client's `top_up_request_id` (unique per sub-account). The rate is taken when it is asked
    for and recorded here, so the sub-account knows what it will get; the balance moves only when Stripe's
    `payment_intent.succeeded` arrives, once (the entry's ref is the top-up's)."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for Stripe to confirm the payment
        SUCCEEDED = "succeeded"  # credited
        FAILED = "failed"  # Stripe refused the payment, or could not be reached before the intent existed

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="top_ups")
    agency = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    top_up_request_id = models.CharField(max_length=255)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    amount = models.BigIntegerField()  # minor units of `currency`, what the card is charged
    currency = models.CharField(max_length=3)
    base_amount = models.BigIntegerField()  # what the balance gets, in its currency
    base_currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    rate_source = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    payment_intent_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    refunded_amount = models.BigIntegerField(default=0)  # of `amount`, as Stripe reports it
    failure_code = models.CharField(max_length=100, blank=True, default="")
    failure_message = models.TextField(blank=True, default="")
    credited_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "top_up_request_id"], name="mk_topup_unique_request"),
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(base_amount__gt=0), name="mk_topup_amounts_positive"),
        ]

    def __str__(self) -> str:
        return f"top-up {self.pk} ({self.status})"


class ExchangeRate(models.Model):
    """How many BASE_CURRENCY units one unit of `currency` is worth, maintained by staff (admin, or
    `manage.py load_exchange_rates`); never fetched from anywhere at request time."""

    currency = models.CharField(max_length=3, unique=True)
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    source = models.CharField(max_length=100, default="staff")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency"]
        constraints = [models.CheckConstraint(condition=Q(rate__gt=0), name="mk_rate_positive")]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate}"
