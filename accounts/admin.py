from django.contrib import admin

from accounts.models import Account, Membership
from accounts.throttles import throttle_admin_login


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


# The admin login counts attempts per username and per IP like the API's token view (accounts/throttles.py).
# Wrapped here, where the accounts app configures the admin: the site's URLs are built from `site.login` later,
# when the URLconf is loaded.
admin.site.login = throttle_admin_login(admin.site.login)
