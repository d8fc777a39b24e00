"""The account's Stripe connection: what staff may see of it. Its secrets never reach a form or a page."""

from django import forms
from django.contrib import admin

from billing.models import StripeConnection


class StripeConnectionForm(forms.ModelForm):
    class Meta:
        model = StripeConnection
        # Secrets are never shown nor editable here: the account reconnects through the API.
        exclude = ["secret_key", "webhook_secret"]  # noqa: DJ006 - a deny-list is the point: secrets never reach the form


@admin.register(StripeConnection)
class StripeConnectionAdmin(admin.ModelAdmin):
    """What staff may see of a connection, never its secrets. Staff do not create one here: an account connects
    its Stripe through the API, which checks the credentials against Stripe before storing them (an add page
    offering neither account nor key could only fail)."""

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

    def has_add_permission(self, request):
        return False
