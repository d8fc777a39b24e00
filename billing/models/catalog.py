"""The account's Stripe catalogue, mirrored: products and prices (legacy plans are stored as prices)."""

from django.db import models

from billing.models.base import StripeObject


class Product(StripeObject):
    name = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    type = models.CharField(max_length=20, blank=True, default="")
    default_price_stripe_id = models.CharField(max_length=255, blank=True, default="")

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_product_acct_created"),
            models.Index(fields=["account", "active"], name="bl_product_acct_active"),
        ]


class Price(StripeObject):
    product_stripe_id = models.CharField(max_length=255, blank=True, default="")
    active = models.BooleanField(default=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    unit_amount = models.BigIntegerField(null=True, blank=True)  # minor units; null for tiered / custom
    type = models.CharField(max_length=20, blank=True, default="")  # one_time | recurring
    recurring_interval = models.CharField(max_length=10, blank=True, default="")
    recurring_interval_count = models.PositiveIntegerField(null=True, blank=True)
    nickname = models.CharField(max_length=255, blank=True, default="")
    lookup_key = models.CharField(max_length=255, blank=True, default="")

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_price_acct_created"),
            models.Index(fields=["account", "product_stripe_id"], name="bl_price_acct_product"),
        ]
