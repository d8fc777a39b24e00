from django import forms
from django.contrib import admin

from billing.models import (
    Account,
    BalanceTransaction,
    Charge,
    Customer,
    Dispute,
    Invoice,
    Membership,
    PaymentMethod,
    Payout,
    Price,
    Product,
    Refund,
    StripeConnection,
    Subscription,
    SubscriptionItem,
    SyncResource,
    SyncRun,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "parent", "is_active", "created_at"]
    search_fields = ["name", "id"]
    list_filter = ["is_active"]
    inlines = [MembershipInline]
    raw_id_fields = ["parent"]


class StripeConnectionForm(forms.ModelForm):
    class Meta:
        model = StripeConnection
        # Secrets are never shown nor editable here: the account reconnects through the API.
        exclude = ["secret_key", "webhook_secret"]  # noqa: DJ006 - a deny-list is the point: secrets never reach the form


@admin.register(StripeConnection)
class StripeConnectionAdmin(admin.ModelAdmin):
    form = StripeConnectionForm
    list_display = ["account", "auth_mode", "status", "initialized", "livemode", "last_synced_at"]
    list_filter = ["status", "auth_mode", "initialized", "livemode"]
    search_fields = ["account__name", "stripe_account_id", "stripe_user_id"]
    readonly_fields = [
        "account",
        "auth_mode",
        "stripe_user_id",
        "stripe_account_id",
        "livemode",
        "initialized",
        "last_synced_at",
        "connected_by",
        "created_at",
        "updated_at",
    ]


# --- The mirror of each account's Stripe, and its sync runs: read-only ------------------------------------
class ReadOnlyAdmin(admin.ModelAdmin):
    """Stripe owns this data: it changes in Stripe and reaches us through the sync or a webhook, never here."""

    show_full_result_count = False  # no COUNT(*) over millions of charges on every page

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


class SyncResourceInline(admin.TabularInline):
    model = SyncResource
    extra = 0
    fields = ["resource", "status", "synced", "pages", "attempts", "error", "cursor", "updated_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "kind", "status", "started_by", "started_at", "finished_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["account", "started_by"]
    search_fields = ["account__name", "account__id"]
    inlines = [SyncResourceInline]


# Webhook events have their own module (admin.py stays small); importing it registers them.
from billing import admin_webhooks  # noqa: E402, F401
