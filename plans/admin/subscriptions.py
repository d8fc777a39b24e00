"""Accounts' subscriptions: read-only (the platform's Stripe owns them, webhooks keep them), with a re-sync."""

from django.contrib import admin, messages

from core.errors import AppError
from plans.models import AccountSubscription
from plans.services.resync import account_subscription_resync


@admin.register(AccountSubscription)
class AccountSubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "account",
        "plan",
        "plan_version",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "past_due_since",
        "unknown_price_id",
    )
    list_filter = ("status", "plan", "cancel_at_period_end")
    list_select_related = ("account", "plan", "plan_version__plan")
    search_fields = ("account__name", "stripe_customer_id", "stripe_subscription_id")
    show_full_result_count = False
    actions = ["resync_from_stripe"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_billing_ops_permission(self, request) -> bool:
        return request.user.has_perm("billing.billing_admin_ops")

    @admin.action(
        description="Re-sync from Stripe (the live subscription overwrites ours)", permissions=["billing_ops"]
    )
    def resync_from_stripe(self, request, queryset):
        for subscription in queryset:
            try:
                synced = account_subscription_resync(account_subscription=subscription)
            except AppError as error:
                self.message_user(request, f"{subscription.account}: {error.message}", messages.ERROR)
            else:
                note = "re-synced" if synced else "no Stripe subscription: nothing to sync"
                self.message_user(request, f"{subscription.account}: {note}.")
