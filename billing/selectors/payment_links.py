"""Payment links as the SPA reads them (SPEC §4): our `PaymentLink` rows joined with their mirrored invoices.

A link's state is its invoice's (open, paid, void, or draft for a creation that stopped half-way), so the list is
the account's mirrored invoices that a payment link names, each with the link's request id and memo: one query
per page whatever its size (two correlated lookups on the link's (account, invoice) index, the customer joined),
paged, filtered and ordered on the invoice's own columns."""

from django.db.models import OuterRef, Subquery

from billing.models import Invoice, PaymentLink
from core.errors import NotFound


def payment_link_list(*, account):
    links = PaymentLink.objects.filter(account=account, invoice_stripe_id=OuterRef("stripe_id")).order_by()
    return (
        Invoice.objects.for_account(account)
        .live()
        .annotate(
            link_request_id=Subquery(links.values("request_id")[:1]),
            link_memo=Subquery(links.values("memo")[:1]),
        )
        .filter(link_request_id__isnull=False)
        .select_related("customer")
    )


def payment_link_get(*, account, invoice_stripe_id: str) -> Invoice:
    invoice = payment_link_list(account=account).filter(stripe_id=invoice_stripe_id).first()
    if invoice is None:
        raise NotFound(f"No payment link {invoice_stripe_id} in this account.")
    return invoice
