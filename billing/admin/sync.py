"""Sync runs of each account's Stripe and their resources: read-only evidence of what the sync did."""

from django.contrib import admin

from billing.models import SyncResource, SyncRun
from core.read_only_admin import ReadOnlyAdmin


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
