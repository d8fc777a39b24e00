"""The mirror of each account's Stripe: read-only (Stripe owns it; the sync and webhooks write it)."""

from django.contrib import admin, messages

from accounts.models import Account
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
from billing.services.connection import connection_resync
from core.errors import AppError
from core.read_only_admin import ReadOnlyAdmin


class StripeMirrorAdmin(ReadOnlyAdmin):
    list_select_related = ["account"]
    list_filter = ["deleted", "livemode"]
    search_fields = ["stripe_id"]
    ordering = ["-created", "-id"]
    date_hierarchy = "created"
    actions = ["resync_accounts"]

    def has_billing_ops_permission(self, request):
        return request.user.is_staff and request.user.has_perm("billing.billing_admin_ops")

    @admin.action(description="Re-sync the Stripe of the selected rows' accounts", permissions=["billing_ops"])
    def resync_accounts(self, request, queryset):
        # One sync run per account (its tasks queued after commit), however many of its rows are selected.
        accounts = Account.objects.filter(pk__in=queryset.values("account_id").distinct())
        for account in accounts:
            try:
                run = connection_resync(account=account, user=request.user)
            except AppError as exc:
                self.message_user(request, f"{account.name}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, f"{account.name}: sync run {run.pk} started.", messages.SUCCESS)


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


def mirror_admin_attributes(model) -> dict:
    columns, search, filters = MIRROR_ADMIN[model]
    return {
        "list_display": ["stripe_id", "account", *columns, "created", "deleted"],
        "search_fields": ["stripe_id", *search],
        "list_filter": [*filters, "deleted", "livemode"],
    }


# Charges have their own admin, with the refund form (billing/admin/charges.py).
for _model in MIRROR_ADMIN.keys() - {Charge}:
    admin.site.register(_model, type(f"{_model.__name__}Admin", (StripeMirrorAdmin,), mirror_admin_attributes(_model)))
