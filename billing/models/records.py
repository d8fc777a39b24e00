"""What we keep about the account's own Stripe that Stripe does not: notes on its customers, a customer's link
to a CRM contact, the refunds the account asked for and the payment links it sent. Written by billing/services,
never by the mirror, so a sync or a webhook never overwrites them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.querysets import AccountScopedQuerySet
from billing.models.customers import Customer


class CustomerNote(models.Model):
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "created_at"], name="bl_note_acct_created"),
            models.Index(fields=["customer", "created_at"], name="bl_note_customer_created"),
        ]

    def __str__(self) -> str:
        return f"Note {self.pk} on {self.customer_id}"


class CustomerContactLink(models.Model):
    """A customer of the account's Stripe linked to a contact of its CRM (one contact per customer). The contact
    is named by its id: the CRM's contacts live above billing (contacts_import), which billing never imports."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="contact_link")
    contact_id = models.CharField(max_length=64)
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    linked_at = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["account", "contact_id"], name="bl_contactlink_acct_contact")]

    def __str__(self) -> str:
        return f"{self.customer_id} → contact {self.contact_id}"


class RefundRequest(models.Model):
    """One refund the account asked for, by its client's `refund_request_id`: the row is claimed before Stripe is
    called (unique per account), so the same request id twice, even at once, refunds once; it records who asked
    and why, and what Stripe answered."""

    class Status(models.TextChoices):
        PENDING = "pending"  # claimed, Stripe being called
        SUCCEEDED = "succeeded"  # Stripe created the refund
        FAILED = "failed"  # Stripe refused or could not be reached: the request id may be retried

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=255)
    charge_stripe_id = models.CharField(max_length=255)
    amount = models.BigIntegerField(null=True, blank=True)  # minor units; null asked for what was left
    currency = models.CharField(max_length=3, blank=True, default="")
    reason = models.CharField(max_length=40)
    note = models.TextField(blank=True, default="")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    refund_stripe_id = models.CharField(max_length=255, blank=True, default="")
    refunded_amount = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "request_id"], name="bl_refundrequest_unique_request"),
            models.CheckConstraint(condition=Q(amount__isnull=True) | Q(amount__gt=0), name="bl_refundrequest_amount"),
        ]
        indexes = [models.Index(fields=["account", "charge_stripe_id"], name="bl_refundreq_acct_charge")]

    def __str__(self) -> str:
        return f"Refund request {self.request_id} on {self.charge_stripe_id} ({self.status})"


class PaymentLink(models.Model):
    """An ad-hoc invoice the account sent a customer (SPEC §4, "payment links"); its state is the mirrored
    invoice's. `request_id` makes creating one idempotent."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=255)
    invoice_stripe_id = models.CharField(max_length=255, blank=True, default="")
    customer_stripe_id = models.CharField(max_length=255)
    memo = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccountScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "request_id"], name="bl_paymentlink_unique_request"),
        ]
        indexes = [models.Index(fields=["account", "invoice_stripe_id"], name="bl_paymentlink_acct_invoice")]

    def __str__(self) -> str:
        return f"Payment link {self.invoice_stripe_id or self.request_id}"
