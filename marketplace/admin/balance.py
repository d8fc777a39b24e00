"""OneBalance in the admin: balances and the ledger read-only (append-only), a form on a balance that writes an
`adjustment` entry through the service, top-ups read-only, and the exchange rates staff maintain."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import AppError
from core.read_only_admin import ReadOnlyAdmin
from marketplace.models import Balance, ExchangeRate, LedgerEntry, TopUp
from marketplace.services.balance import balance_adjust


class AdjustmentForm(forms.Form):
    amount = forms.IntegerField(help_text="Minor units of the balance's currency; negative takes money out.")
    description = forms.CharField(max_length=500, help_text="Why: kept on the entry.")


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("created_at", "kind", "amount", "ref", "description", "original_amount", "original_currency", "rate")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-created_at", "-id")
    show_change_link = False


@admin.register(Balance)
class BalanceAdmin(ReadOnlyAdmin):
    list_display = ("account", "agency", "amount", "currency", "updated_at", "adjust_link")
    list_select_related = ("account", "agency")
    search_fields = ("account__name",)
    inlines = [LedgerEntryInline]

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff

    @admin.display(description="adjust")
    def adjust_link(self, obj):
        return format_html('<a href="{}">adjust</a>', reverse("admin:marketplace_balance_adjust", args=[obj.pk]))

    def get_urls(self):
        extra = [
            path(
                "<int:balance_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="marketplace_balance_adjust",
            )
        ]
        return extra + super().get_urls()

    def adjust_view(self, request, balance_id):
        if not request.user.has_perm("marketplace.add_ledgerentry"):
            raise PermissionDenied
        balance = get_object_or_404(Balance.objects.select_related("account"), pk=balance_id)
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = balance_adjust(
                    account=balance.account,
                    amount=form.cleaned_data["amount"],
                    description=form.cleaned_data["description"],
                    user=request.user,
                )
            except AppError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Adjustment {entry.amount} written ({entry.ref}).")
                return redirect(reverse("admin:marketplace_balance_change", args=[balance.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the balance of {balance.account}",
            "balance": balance,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/marketplace/adjust_balance.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "balance", "kind", "amount", "ref", "original_amount", "original_currency", "rate")
    list_filter = ("kind",)
    search_fields = ("ref", "description")
    list_select_related = ("balance", "balance__account")


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyAdmin):
    list_display = ("id", "account", "amount", "currency", "base_amount", "rate", "status", "payment_intent_id")
    list_filter = ("status", "currency")
    search_fields = ("top_up_request_id", "payment_intent_id")
    list_select_related = ("account",)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("currency", "rate", "source", "updated_at")
    search_fields = ("currency",)
