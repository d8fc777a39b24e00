"""The mirror of each account's Stripe: read-only (Stripe owns it; the sync and webhooks write it)."""

from django.contrib import admin

from billing.admin.read_only import ReadOnlyAdmin
from billing.models import (
    BalanceTransaction,
    Charge,
    Customer,
    Dispute,
    Invoice,
    PaymentMethod,
    Payout,
    Price,
    Product,
    Refund,
    Subscription,
    SubscriptionItem,
)


class StripeMirrorAdmin(ReadOnlyAdmin):
    list_select_related = ["account"]
    list_filter = ["deleted", "livemode"]
    search_fields = ["stripe_id"]
    ordering = ["-created", "-id"]
    date_hierarchy = "created"


# model: (columns after the Stripe id and account, extra search fields, extra filters)
MIRROR_ADMIN = {
    Customer: (["email", "name", "balance", "currency"], ["email", "name"], []),
    PaymentMethod: (["customer_stripe_id", "type", "card_brand", "card_last4"], ["customer_stripe_id"], ["type"]),
    Product: (["name", "active"], ["name"], ["active"]),
    Price: (["product_stripe_id", "unit_amount", "currency", "type", "recurring_interval", "active"], [], ["type"]),
    Subscription: (["customer_stripe_id", "status", "current_period_end"], ["customer_stripe_id"], ["status"]),
    SubscriptionItem: (["subscription", "price_stripe_id", "quantity"], ["price_stripe_id"], []),
    Invoice: (["customer_stripe_id", "status", "total", "amount_paid", "currency"], ["customer_stripe_id"], ["status"]),
    Charge: (
        ["customer_stripe_id", "amount", "amount_refunded", "currency", "status"],
        ["customer_stripe_id"],
        ["status"],
    ),
    Refund: (["charge_stripe_id", "amount", "currency", "status"], ["charge_stripe_id"], ["status"]),
    Dispute: (["charge_stripe_id", "amount", "currency", "status", "reason"], ["charge_stripe_id"], ["status"]),
    Payout: (["amount", "currency", "status", "arrival_date"], [], ["status"]),
    BalanceTransaction: (
        ["type", "amount", "fee", "net", "currency", "payout_stripe_id"],
        ["payout_stripe_id"],
        ["type"],
    ),
}

for _model, (_columns, _search, _filters) in MIRROR_ADMIN.items():
    admin.site.register(
        _model,
        type(
            f"{_model.__name__}Admin",
            (StripeMirrorAdmin,),
            {
                "list_display": ["stripe_id", "account", *_columns, "created", "deleted"],
                "search_fields": ["stripe_id", *_search],
                "list_filter": [*_filters, "deleted", "livemode"],
            },
        ),
    )
