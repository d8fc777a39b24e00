"""Admin for webhook events (SPEC §3, §9): read-only evidence, with replay and purge-dead-letters actions."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from billing.models import WebhookEvent
from billing.webhooks import operations as webhook_operations


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Stripe's events are evidence: read-only here. Staff act on them with the two actions only."""

    list_display = [
        "stripe_event_id",
        "type",
        "relationship",
        "account",
        "status",
        "attempts",
        "received_at",
        "processed_at",
    ]
    list_filter = ["status", "relationship", "type", "livemode"]
    search_fields = ["stripe_event_id", "object_id", "account__name"]
    list_select_related = ["account"]
    date_hierarchy = "received_at"
    actions = ["replay_events", "purge_dead_letters"]
    exclude = ["payload"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields if f.name != "payload"] + ["payload_pretty"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the detail page still shows everything (view permission); nothing is editable

    def has_delete_permission(self, request, obj=None):
        # Only a dead letter may go, and only through the purge action (or its own delete page).
        return obj is not None and obj.status == WebhookEvent.Status.DEAD and self.has_billing_ops_permission(request)

    def has_billing_ops_permission(self, request):
        return request.user.is_staff and request.user.has_perm("billing.billing_admin_ops")

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(obj.payload, indent=2))

    @admin.action(description="Replay: fetch again from Stripe and process from scratch", permissions=["billing_ops"])
    def replay_events(self, request, queryset):
        # Queued, one task per event: the page answers at once, never a Stripe call per row inside the request.
        queued = webhook_operations.webhook_events_replay_queue(event_pks=queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            f"{queued} replay(s) queued: each event's status shows the outcome when it is done "
            "(a failed replay writes its reason in the event's last error).",
            messages.SUCCESS,
        )

    @admin.action(description="Purge the selected dead letters", permissions=["billing_ops"])
    def purge_dead_letters(self, request, queryset):
        selected = list(queryset.values_list("pk", flat=True))
        purged = webhook_operations.webhook_dead_letters_purge(event_pks=selected)
        skipped = len(selected) - purged
        self.message_user(request, f"{purged} dead letter(s) purged.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} selected event(s) are not dead letters: kept.", messages.WARNING)
