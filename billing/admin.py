import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from billing.errors import AppError
from billing.models import Account, Membership, StripeConnection, WebhookEvent
from billing.services import webhooks as webhook_services


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


class StripeConnectionForm(forms.ModelForm):
    class Meta:
        model = StripeConnection
        # Secrets are never shown nor editable here: the account reconnects through the API.
        exclude = ["secret_key", "webhook_secret"]  # noqa: DJ006 - a deny-list is the point: secrets never reach the form


@admin.register(StripeConnection)
class StripeConnectionAdmin(admin.ModelAdmin):
    form = StripeConnectionForm
    list_display = ["account", "auth_mode", "status", "initialized", "livemode", "last_synced_at"]
    list_filter = ["status", "auth_mode", "initialized", "livemode"]
    search_fields = ["account__name", "stripe_account_id", "stripe_user_id"]
    readonly_fields = [
        "account",
        "auth_mode",
        "stripe_user_id",
        "stripe_account_id",
        "livemode",
        "initialized",
        "last_synced_at",
        "connected_by",
        "created_at",
        "updated_at",
    ]


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
        return (
            obj is not None
            and obj.status == WebhookEvent.Status.DEAD
            and self.has_billing_ops_permission(request)
        )

    def has_billing_ops_permission(self, request):
        return request.user.is_staff and request.user.has_perm("billing.billing_admin_ops")

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", json.dumps(obj.payload, indent=2))

    @admin.action(
        description="Replay: fetch again from Stripe and process from scratch", permissions=["billing_ops"]
    )
    def replay_events(self, request, queryset):
        replayed, failed = 0, []
        for event in queryset.select_related("account"):
            try:
                webhook_services.webhook_event_replay_row(event=event)
                replayed += 1
            except AppError as exc:
                failed.append(f"{event.stripe_event_id}: {exc.message}")
        if replayed:
            self.message_user(request, f"{replayed} event(s) queued for processing again.", messages.SUCCESS)
        for line in failed:
            self.message_user(request, f"Not replayed: {line}", messages.ERROR)

    @admin.action(description="Purge the selected dead letters", permissions=["billing_ops"])
    def purge_dead_letters(self, request, queryset):
        selected = list(queryset.values_list("pk", flat=True))
        purged = webhook_services.webhook_dead_letters_purge(event_pks=selected)
        skipped = len(selected) - purged
        self.message_user(request, f"{purged} dead letter(s) purged.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} selected event(s) are not dead letters: kept.", messages.WARNING
            )
