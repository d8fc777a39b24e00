"""What accounts did through the SPA's billing API (SPEC §4): refunds asked for, payment links sent, notes on
customers. Read-only for staff: each is an account's own record (and a refund's request is its audit trail)."""

from django.contrib import admin

from billing.models import CustomerContactLink, CustomerNote, PaymentLink, RefundRequest
from core.read_only_admin import ReadOnlyAdmin


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "request_id",
        "account",
        "charge_stripe_id",
        "amount",
        "currency",
        "reason",
        "status",
        "refund_stripe_id",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "reason"]
    list_select_related = ["account", "requested_by"]
    search_fields = ["request_id", "charge_stripe_id", "refund_stripe_id"]
    date_hierarchy = "created_at"


@admin.register(PaymentLink)
class PaymentLinkAdmin(ReadOnlyAdmin):
    list_display = ["invoice_stripe_id", "account", "customer_stripe_id", "memo", "created_by", "created_at"]
    list_select_related = ["account", "created_by"]
    search_fields = ["invoice_stripe_id", "customer_stripe_id", "request_id"]
    date_hierarchy = "created_at"


@admin.register(CustomerNote)
class CustomerNoteAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "customer", "author", "created_at"]
    list_select_related = ["account", "customer", "author"]
    search_fields = ["customer__stripe_id", "body"]
    date_hierarchy = "created_at"


@admin.register(CustomerContactLink)
class CustomerContactLinkAdmin(ReadOnlyAdmin):
    list_display = ["customer", "account", "contact_id", "linked_by", "linked_at"]
    list_select_related = ["account", "customer", "linked_by"]
    search_fields = ["customer__stripe_id", "contact_id"]
