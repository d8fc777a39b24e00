from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written only by metering's services: the ledger is append-only and the weeks are counters."""

    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
