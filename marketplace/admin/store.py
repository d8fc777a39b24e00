"""The staff's view of stores and purchases: read-only (they change through the agency's Stripe and webhooks)."""

from django.contrib import admin

from core.read_only_admin import ReadOnlyAdmin
from marketplace.models import Purchase, StoreCustomer, StorePrice, StoreProduct


@admin.register(StoreProduct)
class StoreProductAdmin(ReadOnlyAdmin):
    list_display = ("name", "agency", "stripe_id", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "stripe_id")
    list_select_related = ("agency",)


@admin.register(StorePrice)
class StorePriceAdmin(ReadOnlyAdmin):
    list_display = (
        "stripe_id",
        "product",
        "agency",
        "unit_amount",
        "currency",
        "interval",
        "setup_fee_amount",
        "active",
    )
    list_filter = ("active", "currency", "interval")
    search_fields = ("stripe_id", "product__name")
    list_select_related = ("product", "agency")


@admin.register(StoreCustomer)
class StoreCustomerAdmin(ReadOnlyAdmin):
    list_display = ("sub_account", "agency", "stripe_customer_id", "created_at")
    search_fields = ("stripe_customer_id",)
    list_select_related = ("sub_account", "agency")


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "buyer",
        "agency",
        "price",
        "quantity",
        "amount",
        "setup_fee_amount",
        "currency",
        "status",
        "failure_code",
        "refunded_amount",
        "provisioned_at",
        "created_at",
    )
    list_filter = ("status", "kind", "currency")
    search_fields = ("purchase_request_id", "payment_intent_id", "subscription_id")
    list_select_related = ("buyer", "agency", "price")
