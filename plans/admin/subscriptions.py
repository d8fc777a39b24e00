"""Accounts' subscriptions: read-only (the platform's Stripe owns them, webhooks keep them), with a re-sync."""

from django.contrib import admin

from core.queue import enqueue_on_commit
from plans.models import AccountSubscription


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
        description="Re-sync from Stripe (the live subscription overwrites ours; queued)", permissions=["billing_ops"]
    )
    def resync_from_stripe(self, request, queryset):
        # One queued task per row (after commit): the page answers at once, never a Stripe call per row here.
        ids = list(queryset.exclude(stripe_subscription_id="").values_list("pk", flat=True))
        for account_subscription_id in ids:
            enqueue_on_commit("plans.resync_account_subscription", account_subscription_id=account_subscription_id)
        skipped = queryset.count() - len(ids)
        note = f" ({skipped} without a Stripe subscription: nothing to sync)" if skipped else ""
        self.message_user(request, f"{len(ids)} re-sync(s) queued{note}; refresh to see the result.")
