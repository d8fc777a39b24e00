"""Money movements in the account's Stripe, mirrored: invoices, charges, refunds, disputes, payouts and the
balance transactions behind payouts. Amounts are integers in minor units, with their currency."""

from django.db import models

from billing.models.base import StripeObject
from billing.models.customers import Customer


class Invoice(StripeObject):
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices")
    customer_stripe_id = models.CharField(max_length=255, blank=True, default="")
    subscription_stripe_id = models.CharField(max_length=255, blank=True, default="")
    charge_stripe_id = models.CharField(max_length=255, blank=True, default="")
    payment_intent_stripe_id = models.CharField(max_length=255, blank=True, default="")
    number = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=20, blank=True, default="")
    billing_reason = models.CharField(max_length=40, blank=True, default="")
    collection_method = models.CharField(max_length=30, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    amount_due = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    amount_remaining = models.BigIntegerField(default=0)
    subtotal = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    due_date = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    hosted_invoice_url = models.TextField(blank=True, default="")

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_invoice_acct_created"),
            models.Index(fields=["account", "status"], name="bl_invoice_acct_status"),
            models.Index(fields=["account", "customer_stripe_id"], name="bl_invoice_acct_customer"),
            models.Index(fields=["account", "subscription_stripe_id"], name="bl_invoice_acct_sub"),
            # The API's sort keys (billing/api/subscriptions.py, payment_links.py): index walks from the cursor.
            models.Index(fields=["account", "amount_due"], name="bl_invoice_acct_amount_due"),
            models.Index(fields=["account", "due_date"], name="bl_invoice_acct_due_date"),
        ]


class Charge(StripeObject):
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="charges")
    customer_stripe_id = models.CharField(max_length=255, blank=True, default="")
    invoice_stripe_id = models.CharField(max_length=255, blank=True, default="")
    payment_intent_stripe_id = models.CharField(max_length=255, blank=True, default="")
    payment_method_stripe_id = models.CharField(max_length=255, blank=True, default="")
    balance_transaction_stripe_id = models.CharField(max_length=255, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    amount = models.BigIntegerField(default=0)
    amount_captured = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, blank=True, default="")
    paid = models.BooleanField(default=False)
    captured = models.BooleanField(default=False)
    refunded = models.BooleanField(default=False)
    disputed = models.BooleanField(default=False)
    payment_method_type = models.CharField(max_length=40, blank=True, default="")
    card_brand = models.CharField(max_length=20, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    failure_code = models.CharField(max_length=100, blank=True, default="")
    failure_message = models.TextField(blank=True, default="")
    description = models.TextField(blank=True, default="")
    receipt_email = models.CharField(max_length=254, blank=True, default="")

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_charge_acct_created"),
            # Covering (PostgreSQL; SQLite ignores INCLUDE): the overview adds up succeeded charges by day from the
            # index alone, never visiting the table's pages (docs/overview.md).
            models.Index(
                fields=["account", "status", "created"],
                include=["captured", "currency", "amount_captured", "customer_stripe_id"],
                name="bl_charge_acct_status_cov",
            ),
            models.Index(fields=["account", "customer_stripe_id"], name="bl_charge_acct_customer"),
            models.Index(fields=["account", "payment_intent_stripe_id"], name="bl_charge_acct_pi"),
            models.Index(fields=["account", "amount"], name="bl_charge_acct_amount"),  # the API's sort key
        ]


class Refund(StripeObject):
    charge_stripe_id = models.CharField(max_length=255, blank=True, default="")
    payment_intent_stripe_id = models.CharField(max_length=255, blank=True, default="")
    balance_transaction_stripe_id = models.CharField(max_length=255, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    amount = models.BigIntegerField(default=0)
    status = models.CharField(max_length=30, blank=True, default="")
    reason = models.CharField(max_length=60, blank=True, default="")

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(  # covering, for the overview, as the charges' (account, status, created)
                fields=["account", "created"],
                include=["status", "currency", "amount"],
                name="bl_refund_acct_created_cov",
            ),
            models.Index(fields=["account", "charge_stripe_id"], name="bl_refund_acct_charge"),
            models.Index(fields=["account", "amount"], name="bl_refund_acct_amount"),  # the API's sort key
        ]


class Dispute(StripeObject):
    charge_stripe_id = models.CharField(max_length=255, blank=True, default="")
    payment_intent_stripe_id = models.CharField(max_length=255, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    amount = models.BigIntegerField(default=0)
    status = models.CharField(max_length=40, blank=True, default="")
    reason = models.CharField(max_length=60, blank=True, default="")
    is_charge_refundable = models.BooleanField(default=False)
    evidence_due_by = models.DateTimeField(null=True, blank=True)

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_dispute_acct_created"),
            models.Index(fields=["account", "status"], name="bl_dispute_acct_status"),
            models.Index(fields=["account", "charge_stripe_id"], name="bl_dispute_acct_charge"),
        ]


class Payout(StripeObject):
    currency = models.CharField(max_length=3, blank=True, default="")
    amount = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, blank=True, default="")
    arrival_date = models.DateTimeField(null=True, blank=True)
    automatic = models.BooleanField(default=False)
    method = models.CharField(max_length=20, blank=True, default="")
    type = models.CharField(max_length=20, blank=True, default="")
    description = models.TextField(blank=True, default="")
    balance_transaction_stripe_id = models.CharField(max_length=255, blank=True, default="")
    failure_code = models.CharField(max_length=100, blank=True, default="")
    failure_message = models.TextField(blank=True, default="")

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_payout_acct_created"),
            models.Index(fields=["account", "status"], name="bl_payout_acct_status"),
            models.Index(fields=["account", "arrival_date"], name="bl_payout_acct_arrival"),
        ]


class BalanceTransaction(StripeObject):
    # Stripe's object does not name its payout: set when listed with `?payout=`
    # (mirror.upsert_objects(..., payout=)).
    payout_stripe_id = models.CharField(max_length=255, blank=True, default="")
    source_stripe_id = models.CharField(max_length=255, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    amount = models.BigIntegerField(default=0)
    fee = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)
    type = models.CharField(max_length=40, blank=True, default="")
    reporting_category = models.CharField(max_length=60, blank=True, default="")
    status = models.CharField(max_length=20, blank=True, default="")
    description = models.TextField(blank=True, default="")
    available_on = models.DateTimeField(null=True, blank=True)

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_btxn_acct_created"),
            models.Index(fields=["account", "payout_stripe_id"], name="bl_btxn_acct_payout"),
        ]
