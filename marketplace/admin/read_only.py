from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by services only (the store through the agency's Stripe, purchases and the ledger by their flows)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
