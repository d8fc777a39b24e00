"""The Events API backfill seen by staff (billing/webhooks/backfill.py): each source's watermark and last run,
an action to run it now, and a form to run it for one source over a chosen time range. Runs are Celery tasks:
the page answers at once, and the source's row shows the result when the task is done."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from billing.models import StripeConnection, WebhookBackfill
from billing.relationships import Relationship
from billing.webhooks.backfill import BACKFILL_SOURCE_TASK
from core.queue import enqueue
from core.read_only_admin import ReadOnlyAdmin

PLATFORM_CHOICE = "platform"


def _source_choices() -> list[tuple[str, str]]:
    connected = (
        StripeConnection.objects.exclude(status=StripeConnection.Status.DISCONNECTED)
        .select_related("account")
        .order_by("account__name")
    )
    return [(PLATFORM_CHOICE, "The platform (our billing of accounts)")] + [
        (str(c.account_id), f"{c.account.name} ({c.account_id})") for c in connected
    ]


class BackfillRangeForm(forms.Form):
    source = forms.ChoiceField(help_text="The platform's Stripe, or an account's own connected Stripe.")
    since = forms.DateTimeField(help_text="UTC, e.g. 2026-11-30 08:00. Stripe keeps events 30 days.")
    until = forms.DateTimeField(required=False, help_text="UTC; empty: now.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = _source_choices()

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until") or timezone.now()
        oldest = timezone.now() - timedelta(days=settings.WEBHOOK_BACKFILL_MAX_DAYS)
        if since and since < oldest:
            self.add_error(
                "since",
                f"Stripe keeps events {settings.WEBHOOK_BACKFILL_MAX_DAYS} days: "
                f"start after {oldest:%Y-%m-%d %H:%M} UTC.",
            )
        if since and since >= until:
            self.add_error("until", "The range must end after it starts.")
        return cleaned


@admin.register(WebhookBackfill)
class WebhookBackfillAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "account",
        "checked_through",
        "last_run_at",
        "last_listed",
        "last_fed",
        "total_fed",
        "last_error",
    ]
    list_filter = ["relationship"]
    list_select_related = ["account"]
    search_fields = ["account__name", "account__id"]
    actions = ["backfill_now"]
    change_list_template = "admin/billing/webhookbackfill/change_list.html"

    def has_billing_ops_permission(self, request):
        return request.user.is_staff and request.user.has_perm("billing.billing_admin_ops")

    @admin.action(description="Backfill now, from each source's watermark", permissions=["billing_ops"])
    def backfill_now(self, request, queryset):
        sources = list(queryset.values_list("relationship", "account_id"))
        for relationship, account_id in sources:
            enqueue(BACKFILL_SOURCE_TASK, relationship, str(account_id) if account_id else None)
        self.message_user(
            request, f"{len(sources)} backfill(s) queued: each row shows its result when done.", messages.SUCCESS
        )

    def get_urls(self):
        run = path("run/", self.admin_site.admin_view(self.run_view), name="billing_webhookbackfill_run")
        return [run, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_run_range": self.has_billing_ops_permission(request)}
        return super().changelist_view(request, extra_context)

    def run_view(self, request):
        if not self.has_billing_ops_permission(request):
            self.message_user(request, "Running a backfill needs the billing admin permission.", messages.ERROR)
            return redirect(reverse("admin:billing_webhookbackfill_changelist"))
        form = BackfillRangeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            source = form.cleaned_data["source"]
            relationship = Relationship.PLATFORM if source == PLATFORM_CHOICE else Relationship.ACCOUNT
            until = form.cleaned_data["until"]
            enqueue(
                BACKFILL_SOURCE_TASK,
                relationship,
                None if source == PLATFORM_CHOICE else source,
                since=form.cleaned_data["since"].isoformat(),
                until=until.isoformat() if until else None,
            )
            self.message_user(
                request,
                "Backfill queued: the source's row below shows what it listed and stored when it is done.",
                messages.SUCCESS,
            )
            return redirect(reverse("admin:billing_webhookbackfill_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Backfill events from Stripe over a time range",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/webhookbackfill/run.html", context)
