import uuid

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from core.read_only_admin import ReadOnlyAdmin
from metering.models import ExtrasBalance, LedgerEntry, Topup
from metering.services.extras import extras_adjust

RECENT = 20


class AdjustmentForm(forms.ModelForm):
    """Not a form over the balance's fields (all read-only): an adjustment to append to its ledger."""

    adjust_units = forms.IntegerField(
        required=False, help_text="Units to add (positive) or take (negative); empty: no adjustment."
    )
    adjust_reason = forms.CharField(required=False, max_length=500, help_text="Required with an adjustment.")

    class Meta:
        model = ExtrasBalance
        fields = ()

    def clean(self):
        data = super().clean()
        units, reason = data.get("adjust_units"), (data.get("adjust_reason") or "").strip()
        if units == 0:
            self.add_error("adjust_units", "An adjustment of zero units is refused.")
        if units and not reason:
            self.add_error("adjust_reason", "An adjustment needs a reason.")
        return data


@admin.register(ExtrasBalance)
class ExtrasBalanceAdmin(admin.ModelAdmin):
    form = AdjustmentForm
    list_display = ("account", "cached_balance", "unbacked_units", "updated_at")
    search_fields = ("account__name", "=account__id")
    list_select_related = ("account",)
    readonly_fields = ("account", "cached_balance", "unbacked_units", "updated_at", "active_topups", "recent_entries")
    fields = (*readonly_fields, "adjust_units", "adjust_reason")

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Changing a balance is appending an adjustment: billing staff only.
        user = request.user
        return bool(user.is_active and user.is_staff and user.has_perm("billing.billing_admin_ops"))

    def has_view_permission(self, request, obj=None):
        return self.has_change_permission(request, obj) or super().has_view_permission(request, obj)

    @admin.display(description="Active top-ups")
    def active_topups(self, balance):
        rows = balance.topups.filter(expired_at__isnull=True).order_by("expires_at", "id")
        return (
            format_html_join(
                "",
                "<div>{}: {} of {} left, expires {}</div>",
                ((t.pack_id, t.remaining_units, t.units, t.expires_at) for t in rows),
            )
            or "—"
        )

    @admin.display(description=f"Ledger (newest {RECENT})")
    def recent_entries(self, balance):
        rows = balance.entries.order_by("-created_at", "-id")[:RECENT]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{:+d}</td><td>{}</td><td>{}</td></tr>",
            ((e.created_at, e.kind, e.amount, e.ref, e.reason) for e in rows),
        )
        return format_html(
            "<table><tr><th>When</th><th>Kind</th><th>Units</th><th>Ref</th><th>Reason</th></tr>{}</table>", body
        )

    def save_model(self, request, obj, form, change):
        units = form.cleaned_data.get("adjust_units")
        if not units:
            return
        entry = extras_adjust(
            account_id=obj.account_id,
            amount=units,
            reason=form.cleaned_data["adjust_reason"],
            ref=f"staff-{uuid.uuid4().hex}",
            created_by=request.user,
        )
        messages.info(
            request,
            f"Adjustment of {entry.amount:+d} units written; the balance is now {entry.balance.cached_balance}.",
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "account", "kind", "amount", "ref", "reason", "created_by")
    list_filter = ("kind",)
    search_fields = ("=ref", "=balance__account__id")
    list_select_related = ("balance__account", "created_by")
    ordering = ("-created_at", "-id")

    @admin.display(description="Account")
    def account(self, entry):
        return entry.balance.account


@admin.register(Topup)
class TopupAdmin(ReadOnlyAdmin):
    list_display = (
        "pack_id",
        "balance",
        "units",
        "remaining_units",
        "clawed_back_units",
        "expires_at",
        "expired_at",
        "payment_intent_id",
    )
    search_fields = ("=payment_intent_id", "=checkout_session_id", "=balance__account__id")
    list_select_related = ("balance__account",)
