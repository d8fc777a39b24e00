"""The staff's admin for the account's own Stripe, one module per area; importing them registers their pages."""

from django.contrib import admin

from billing.admin import backfill, charges, connection, mirror, records, sync, webhooks  # noqa: F401

# The staff's landing page shows the last 30 days of volume above the app list (billing/templatetags).
admin.site.index_template = "admin/billing_index.html"
