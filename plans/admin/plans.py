"""Plans and their versions. Versions are immutable (usage weeks snapshot them): a change is a bump, the admin
action below or `POST /api/v1/admin/billing/plans/<slug>/versions/`, never an edit."""

from django.contrib import admin, messages

from core.errors import AppError
from plans.models import Plan, PlanVersion
from plans.services.versions import plan_version_bump


class PlanVersionInline(admin.TabularInline):
    model = PlanVersion
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "version",
        "active",
        "weekly_quota",
        "ratios",
        "stripe_price_month",
        "stripe_price_year",
        "effective_from",
        "effective_until",
    )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "public", "stripe_product_id")
    search_fields = ("slug", "name")
    inlines = [PlanVersionInline]
    actions = ["bump_version"]

    def get_readonly_fields(self, request, obj=None):
        # The slug names the plan in Stripe's metadata and in every subscription: fixed once created.
        return ("slug", "stripe_product_id") if obj else ("stripe_product_id",)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(
        description="Bump version (a copy of the active version; the previous one is deactivated)",
        permissions=["change"],
    )
    def bump_version(self, request, queryset):
        for plan in queryset:
            try:
                version = plan_version_bump(plan=plan)
            except AppError as error:
                self.message_user(request, f"{plan.slug}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{plan.slug}: version {version.version} is now active.")


@admin.register(PlanVersion)
class PlanVersionAdmin(admin.ModelAdmin):
    list_display = ("plan", "version", "active", "weekly_quota", "effective_from", "effective_until")
    list_filter = ("active", "plan")
    list_select_related = ("plan",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
