"""Staff views: import jobs with their progress and problems (read-only: a job is changed by its run, or
cancelled through the API), and contacts."""

import json

from django.contrib import admin
from django.utils.html import format_html

from contacts_import.models import Contact, ImportJob


def _pretty(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "account",
        "type",
        "status",
        "processed",
        "added",
        "updated",
        "skipped",
        "errors",
        "pages",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "type")
    search_fields = ("=id", "=account__id", "failure_reason")
    ordering = ("-created_at",)
    list_select_related = ("account",)
    fields = (
        "account",
        "created_by",
        "type",
        "new_contact",
        "limit",
        "mappings_pretty",
        "status",
        "failure_reason",
        "cancel_requested",
        "processed",
        "added",
        "updated",
        "skipped",
        "errors",
        "pages",
        "cursor",
        "attempts",
        "retry_at",
        "heartbeat_at",
        "created_at",
        "started_at",
        "finished_at",
        "error_details_pretty",
        "skipped_details_pretty",
    )
    readonly_fields = fields

    @admin.display(description="mappings")
    def mappings_pretty(self, job):
        return _pretty(job.mappings)

    @admin.display(description="errors (id, email, reason)")
    def error_details_pretty(self, job):
        return _pretty(job.error_details)

    @admin.display(description="skipped (id, email, reason)")
    def skipped_details_pretty(self, job):
        return _pretty(job.skipped_details)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "account",
        "type",
        "email",
        "first_name",
        "last_name",
        "business_name",
        "source",
        "stripe_customer_id",
        "updated_at",
    )
    list_filter = ("type", "source")
    search_fields = ("=email", "=stripe_customer_id", "business_name", "last_name")
    list_select_related = ("account",)
    raw_id_fields = ("account", "owner", "created_by")
    readonly_fields = ("email_domain", "old_field_values", "created_at", "updated_at")
