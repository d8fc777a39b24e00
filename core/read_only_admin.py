"""The base of the admin pages over data that the admin shows but never writes: what Stripe owns (the mirror,
reaching us through the sync and webhooks), and what only services write (ledgers, usage weeks, purchases, records).
Changes to such data go through its services (an admin action or form calling one), never through a model form."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
