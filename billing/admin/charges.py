"""Charges of each account's Stripe in the admin: read-only like the rest of the mirror, with a refund form for
staff holding `billing.billing_admin_ops`. The form goes through the same service as the account's own refund API
(`billing/services/refunds.py`: the account's Stripe first with an idempotency key, the same rules and errors), so
a refund made here is recorded with who asked and why like any other."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from billing.admin.mirror import StripeMirrorAdmin, mirror_admin_attributes
from billing.models import Charge
from billing.services.refunds import REASONS, charge_refund
from core.errors import AppError


class ChargeRefundForm(forms.Form):
    amount = forms.IntegerField(
        required=False, min_value=1, help_text="Minor units of the charge's currency; empty: all that is left."
    )
    reason = forms.ChoiceField(choices=[(r, r.replace("_", " ")) for r in REASONS])
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    # Drawn when the form is shown: submitting the same form twice refunds once (the API's refund_request_id).
    refund_request_id = forms.CharField(widget=forms.HiddenInput, min_length=8, max_length=200)


class ChargeAdmin(StripeMirrorAdmin):
    change_form_template = "admin/billing/charge/change_form.html"

    def has_billing_ops_permission(self, request):
        return request.user.is_staff and request.user.has_perm("billing.billing_admin_ops")

    def get_urls(self):
        refund = path(
            "<path:object_id>/refund/", self.admin_site.admin_view(self.refund_view), name="billing_charge_refund"
        )
        return [refund, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_refund": self.has_billing_ops_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def refund_view(self, request, object_id):
        charge = get_object_or_404(Charge.objects.select_related("account"), pk=object_id)
        back = reverse("admin:billing_charge_change", args=[charge.pk])
        if not self.has_billing_ops_permission(request):
            self.message_user(request, "Refunds need the billing admin permission.", messages.ERROR)
            return redirect(back)
        form = ChargeRefundForm(request.POST or None, initial={"refund_request_id": f"admin-{uuid.uuid4()}"})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                outcome = charge_refund(
                    account=charge.account,
                    charge=charge,
                    amount=data["amount"],
                    reason=data["reason"],
                    request_id=data["refund_request_id"],
                    user=request.user,
                    note=data["note"],
                )
            except AppError as exc:
                form.add_error(None, f"{exc.message} ({exc.code})")
            else:
                refunded = outcome.request.refunded_amount
                self.message_user(
                    request,
                    f"Refunded {refunded} {charge.currency.upper()} of {charge.stripe_id} "
                    f"({outcome.charge.amount_refunded} of {outcome.charge.amount} refunded in all).",
                    messages.SUCCESS,
                )
                return redirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund {charge.stripe_id}",
            "charge": charge,
            "left": charge.amount - charge.amount_refunded,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/charge/refund.html", context)


admin.site.register(Charge, type("ChargeAdmin", (ChargeAdmin,), mirror_admin_attributes(Charge)))
