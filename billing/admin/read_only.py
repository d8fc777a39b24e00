"""The base of the admin pages over data that Stripe owns."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Stripe owns this data: it changes in Stripe and reaches us through the sync or a webhook, never here."""

    show_full_result_count = False  # no COUNT(*) over millions of charges on every page

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
