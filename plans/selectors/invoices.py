"""The account's bills from us: its invoices in the platform's Stripe (read live; we keep no copy)."""

from billing.stripe.client import StripeClient
from plans.models import AccountSubscription

LIMIT = 24


def account_invoice_list(*, subscription: AccountSubscription, limit: int = LIMIT) -> list[dict]:
    if not subscription.stripe_customer_id:
        return []
    invoices, _ = StripeClient.for_platform().list_page(
        "/v1/invoices", limit=limit, customer=subscription.stripe_customer_id
    )
    return [
        {
            "id": invoice["id"],
            "number": invoice.get("number"),
            "status": invoice.get("status"),
            "amount_due": invoice.get("amount_due") or 0,
            "amount_paid": invoice.get("amount_paid") or 0,
            "currency": invoice.get("currency"),
            "created": invoice.get("created"),
            "hosted_invoice_url": invoice.get("hosted_invoice_url"),
            "invoice_pdf": invoice.get("invoice_pdf"),
        }
        for invoice in invoices
    ]
