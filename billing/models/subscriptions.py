"""The account's customers' Stripe subscriptions and their items, mirrored (not our billing of the
account: that is AccountSubscription)."""

from django.db import models

from billing.models.base import StripeObject
from billing.models.customers import Customer


class Subscription(StripeObject):
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    customer_stripe_id = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=30, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    collection_method = models.CharField(max_length=30, blank=True, default="")
    cancel_at_period_end = models.BooleanField(default=False)
    # Today's API keeps the period on each item; old versions on the subscription. See mappers.subscription.
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    trial_start = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    latest_invoice_stripe_id = models.CharField(max_length=255, blank=True, default="")

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "created"], name="bl_sub_acct_created"),
            models.Index(fields=["account", "status"], name="bl_sub_acct_status"),
            models.Index(fields=["account", "customer_stripe_id"], name="bl_sub_acct_customer"),
            models.Index(fields=["account", "current_period_end"], name="bl_sub_acct_period_end"),  # API sort key
        ]


class SubscriptionItem(StripeObject):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="items")
    price_stripe_id = models.CharField(max_length=255, blank=True, default="")
    product_stripe_id = models.CharField(max_length=255, blank=True, default="")
    quantity = models.PositiveIntegerField(null=True, blank=True)
    unit_amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)

    class Meta(StripeObject.Meta):
        indexes = [
            models.Index(fields=["account", "price_stripe_id"], name="bl_subitem_acct_price"),
        ]
