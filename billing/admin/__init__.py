"""The staff's admin for the account's own Stripe, one module per area; importing them registers their pages."""

from billing.admin import backfill, charges, connection, mirror, records, sync, webhooks  # noqa: F401
