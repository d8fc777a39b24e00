"""The account's Stripe customers and their payment methods, mirrored."""

from django.db import models

from billing.models.base import StripeObject


class Customer(StripeObject):
    email = models.CharField(max_length=254, blank=True, default="")
    name = models.CharField(max_length=255, blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")
    description = models.TextField(blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    balance = models.BigIntegerField(default=0)  # minor units; `account_balance` in old API versions
    delinquent = models.BooleanField(default=False)
    default_payment_method_stripe_id = models.CharField(max_length=255, blank=True, default="")

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_customer_acct_created"),
            models.Index(fields=["account", "email"], name="bl_customer_acct_email"),
            # The API's other sort keys (billing/api/customers.py): a page is an index walk from its cursor.
            models.Index(fields=["account", "name"], name="bl_customer_acct_name"),
            models.Index(fields=["account", "balance"], name="bl_customer_acct_balance"),
        ]


class PaymentMethod(StripeObject):
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="payment_methods"
    )
    customer_stripe_id = models.CharField(max_length=255, blank=True, default="")
    type = models.CharField(max_length=40, blank=True, default="")
    card_brand = models.CharField(max_length=20, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "customer_stripe_id"], name="bl_pm_acct_customer"),
        ]
