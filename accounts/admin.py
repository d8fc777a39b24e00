from django.contrib import admin

from accounts.models import Account, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "parent", "is_active", "created_at"]
    search_fields = ["name", "id"]
    list_filter = ["is_active"]
    inlines = [MembershipInline]
    raw_id_fields = ["parent"]
