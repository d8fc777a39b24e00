from django.contrib import admin

from core.read_only_admin import ReadOnlyAdmin
from metering.models import Attribution, UsageWeek


@admin.register(UsageWeek)
class UsageWeekAdmin(ReadOnlyAdmin):
    list_display = (
        "account",
        "week_key",
        "meter_used",
        "meter_quota",
        "overflow_units",
        "plan_version",
        "alerted_at_80",
        "alerted_at_100",
        "archived_at",
    )
    list_filter = ("week_key",)
    search_fields = ("account__name", "=account__id")
    list_select_related = ("account", "plan_version__plan")
    ordering = ("-week_key", "account__name")


@admin.register(Attribution)
class AttributionAdmin(ReadOnlyAdmin):
    list_display = ("key", "account", "week_key", "units", "extras_debited", "reason", "created_at")
    list_filter = ("week_key", "reason")
    search_fields = ("=key", "=account__id")
    list_select_related = ("account",)
    ordering = ("-created_at",)
