"""Divergences (reconciliation, dunning) with a force sync and a CSV export, and platform refunds read-only with
a CSV export. Both are records: nobody adds or edits them here."""

from django.contrib import admin, messages

from core.api.csv_export import csv_chunks, csv_response
from core.queue import enqueue_on_commit
from plans.models import Divergence, PlatformRefund


class ReadOnlyRecords(admin.ModelAdmin):
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_billing_ops_permission(self, request) -> bool:
        return request.user.has_perm("billing.billing_admin_ops")


DIVERGENCE_COLUMNS = (
    "id",
    "kind",
    "status",
    "account_id",
    "subscription_id",
    "fields",
    "ours",
    "theirs",
    "note",
    "created_at",
    "resolved_at",
)
REFUND_COLUMNS = (
    "request_id",
    "charge_id",
    "account_id",
    "amount",
    "currency",
    "reason",
    "requested_by",
    "status",
    "refund_stripe_id",
    "refunded_amount",
    "error",
    "created_at",
)


@admin.register(Divergence)
class DivergenceAdmin(ReadOnlyRecords):
    list_display = ("created_at", "kind", "status", "account", "fields", "resolved_at")
    list_filter = ("status", "kind")
    list_select_related = ("account",)
    search_fields = ("account__name",)
    actions = ["force_sync", "export_csv"]

    @admin.action(description="Force sync from Stripe and resolve (queued)", permissions=["billing_ops"])
    def force_sync(self, request, queryset):
        # One task per divergence, sent after commit: the page answers at once, never a Stripe call per row here.
        ids = list(queryset.filter(status=Divergence.Status.OPEN).values_list("pk", flat=True))
        for divergence_id in ids:
            enqueue_on_commit("plans.force_sync_divergence", divergence_id=divergence_id)
        self.message_user(request, f"{len(ids)} force sync(s) queued; refresh to see them resolved.", messages.SUCCESS)

    @admin.action(description="Export the selected divergences as CSV", permissions=["billing_ops"])
    def export_csv(self, request, queryset):
        rows = (
            [getattr(row, column) for column in DIVERGENCE_COLUMNS]
            for row in queryset.order_by("-created_at").iterator()
        )
        return csv_response(request, csv_chunks(DIVERGENCE_COLUMNS, rows), filename="divergences.csv")


@admin.register(PlatformRefund)
class PlatformRefundAdmin(ReadOnlyRecords):
    list_display = (
        "created_at",
        "request_id",
        "charge_id",
        "account",
        "amount",
        "currency",
        "reason",
        "requested_by",
        "status",
    )
    list_filter = ("status", "reason")
    list_select_related = ("account", "requested_by")
    search_fields = ("request_id", "charge_id", "refund_stripe_id")
    actions = ["export_csv"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Export the selected refunds as CSV", permissions=["billing_ops"])
    def export_csv(self, request, queryset):
        rows = (
            [
                row.requested_by.get_username()
                if column == "requested_by" and row.requested_by
                else getattr(row, column)
                for column in REFUND_COLUMNS
            ]
            for row in queryset.select_related("requested_by").order_by("-created_at").iterator()
        )
        return csv_response(request, csv_chunks(REFUND_COLUMNS, rows), filename="platform-refunds.csv")
