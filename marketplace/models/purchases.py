"""A sub-account's purchase of an add-on, by its client's `purchase_request_id` (unique per buyer: the claim that
makes a double click charge once)."""

import uuid

from django.conf import settings
from django.db import models


class Purchase(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # claimed; Stripe called or being called; waiting for Stripe to confirm payment
        FULFILLED = "fulfilled"  # Stripe confirmed payment (webhook): exactly once
        FAILED = "failed"  # Stripe refused the payment (`failure_*` says why) or could not be reached
        REFUNDED = "refunded"  # the whole charge was refunded (a partial refund only moves `refunded_amount`)

    class Kind(models.TextChoices):
        ONE_OFF = "one_off"
        RECURRING = "recurring"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    buyer = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="purchases")
    agency = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="sales")
    price = models.ForeignKey("marketplace.StorePrice", on_delete=models.PROTECT, related_name="purchases")
    purchase_request_id = models.CharField(max_length=255)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    quantity = models.PositiveIntegerField(default=1)
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()  # the add-on line: unit amount × quantity
    setup_fee_amount = models.BigIntegerField(default=0)  # the setup-fee line (0: none)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    payment_intent_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    subscription_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, default="")
    failure_code = models.CharField(max_length=100, blank=True, default="")
    failure_message = models.TextField(blank=True, default="")
    refunded_amount = models.BigIntegerField(default=0)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    # The follow-up work (provisioning): when it ran, and how many times (the proof that it ran once).
    provisioned_at = models.DateTimeField(null=True, blank=True)
    provision_runs = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "purchase_request_id"], name="mk_purchase_unique_request"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="mk_purchase_amount_positive"),
            models.CheckConstraint(condition=models.Q(setup_fee_amount__gte=0), name="mk_purchase_setup_fee_sign"),
            models.CheckConstraint(condition=models.Q(refunded_amount__gte=0), name="mk_purchase_refunded_sign"),
        ]
        indexes = [
            # The provisioning sweep's rows (marketplace/services/fulfilment.py): few, whatever the table's size.
            models.Index(
                fields=["fulfilled_at"],
                name="mk_purchase_unprovisioned",
                condition=models.Q(status="fulfilled", provisioned_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"purchase {self.pk} ({self.status})"

    @property
    def total_amount(self) -> int:
        return self.amount + self.setup_fee_amount
