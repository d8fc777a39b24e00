"""An agency's store: what it sells its sub-accounts, kept in its own Stripe and here (docs/marketplace.md)."""

from django.db import models


class Store(models.Model):
    """One per agency: the Stripe product its setup fees are prices of (the seed's SETUP_PRODUCT), created in the
    agency's Stripe the first time a price has a setup fee."""

    agency = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="store")
    setup_product_stripe_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"store of {self.agency}"


class StoreProduct(models.Model):
    agency = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="store_products")
    stripe_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["agency", "stripe_id"], name="mk_storeproduct_unique_stripe")]

    def __str__(self) -> str:
        return self.name


class StorePrice(models.Model):
    """A price of an add-on: one-off (`interval` empty) or recurring, with an optional setup fee charged once with
    the first payment (a one-time price on the store's setup product, same currency)."""

    agency = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="store_prices")
    product = models.ForeignKey(StoreProduct, on_delete=models.PROTECT, related_name="prices")
    stripe_id = models.CharField(max_length=255)
    nickname = models.CharField(max_length=255, blank=True, default="")
    currency = models.CharField(max_length=3)
    unit_amount = models.BigIntegerField()  # minor units
    interval = models.CharField(max_length=10, blank=True, default="")  # "" = one-off
    interval_count = models.PositiveIntegerField(default=1)
    setup_fee_amount = models.BigIntegerField(null=True, blank=True)
    setup_fee_stripe_id = models.CharField(max_length=255, blank=True, default="")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "stripe_id"], name="mk_storeprice_unique_stripe"),
            models.CheckConstraint(condition=models.Q(unit_amount__gt=0), name="mk_storeprice_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(setup_fee_amount__isnull=True) | models.Q(setup_fee_amount__gt=0),
                name="mk_storeprice_setup_fee_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.stripe_id

    @property
    def is_recurring(self) -> bool:
        return bool(self.interval)

    @property
    def interval_or_none(self) -> str | None:
        return self.interval or None


class StoreCustomer(models.Model):
    """A sub-account as a customer in its agency's Stripe: created once, on first need."""

    sub_account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="store_customer")
    agency = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    stripe_customer_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "stripe_customer_id"], name="mk_storecustomer_unique_stripe")
        ]

    def __str__(self) -> str:
        return self.stripe_customer_id
