"""Payment links (SPEC §4, issue 11 item 5): an ad-hoc invoice the account sends one of its customers, finalised
in its own Stripe, whose hosted page (`hosted_invoice_url`) is the link. Our `PaymentLink` row names the invoice;
its state (open, paid, void) is the mirrored invoice's.

Creating one is once-only by the client's `request_id` (unique per account):
1. the request id is claimed (our row), in a transaction of its own, so the claim outlives a failure;
2. under the row's lock (the same id sent twice at once: the second waits here, then finds the link made), the
   account's Stripe is called: the invoice (a draft, `send_invoice`, the memo as its description, our marker in
   its metadata), its items put on it (`invoice=`, so no pending item of the customer is swept in and none of
   ours is left pending), then finalisation; every call carries an idempotency key derived from the request id
   (an item's from the request id and its index), so a retry after a failure resumes where it stopped and never
   adds anything twice;
3. the finalised invoice is written to the mirror and the row names it, in the same transaction.
If Stripe refuses (422) or cannot be reached (502), nothing is written to the mirror; the claim stays, and the
same request sent again completes the link.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.db import IntegrityError, transaction

from billing.models import Customer, Invoice, PaymentLink, Price
from billing.services.account_stripe import account_client, idempotency_key, mirror_saved
from core.errors import Conflict, InvalidInput, NotFound

# In the invoice's Stripe metadata: marks it as one of our payment links, and names the request that made it.
PAYMENT_LINK_MARKER = "payment_link_request_id"


@dataclass(frozen=True)
class LineItem:
    """One line of a payment link: an amount (per unit, minor units) with its currency and description, or a
    one-time price of the account's catalogue; times `quantity`."""

    quantity: int = 1
    amount: int | None = None
    currency: str | None = None
    description: str | None = None
    price: str | None = None


def payment_link_create(
    *,
    account,
    user,
    customer_stripe_id: str,
    line_items: list[LineItem],
    due_date: date | None = None,
    days_until_due: int | None = None,
    memo: str = "",
    request_id: str,
) -> Invoice:
    """The finalised invoice of the link made for `request_id` (made now, or earlier by the same request id).
    Raises NotFound (404: no such customer or price in this account), InvalidInput (400: line items in several
    currencies), Conflict (409: the request id was used for another customer), StripeRejected (422),
    StripeUnavailable (502), NoStripeConnection (409)."""
    done = _finished(
        account, PaymentLink.objects.filter(account=account, request_id=request_id).first(), customer_stripe_id
    )
    if done is not None:
        return done
    if not Customer.objects.for_account(account).live().filter(stripe_id=customer_stripe_id).exists():
        raise _not_found("customer", f"No customer {customer_stripe_id} in this account.")
    currency = _one_currency(account, line_items)

    claimed = _claim(
        account=account, user=user, customer_stripe_id=customer_stripe_id, memo=memo, request_id=request_id
    )
    with transaction.atomic():
        link = PaymentLink.objects.select_for_update().get(pk=claimed.pk)
        done = _finished(account, link, customer_stripe_id)
        if done is not None:  # made meanwhile by the same request id, sent twice at once
            return done
        obj = _create_in_stripe(
            account=account,
            customer_stripe_id=customer_stripe_id,
            currency=currency,
            line_items=line_items,
            due_date=due_date,
            days_until_due=days_until_due,
            memo=memo,
            request_id=request_id,
        )
        invoice = mirror_saved(account=account, obj=obj)
        link.invoice_stripe_id = obj["id"]
        link.save(update_fields=["invoice_stripe_id"])
    return invoice


def payment_link_void(*, account, invoice: Invoice) -> Invoice:
    """Voids the link's invoice in Stripe (its page then refuses payment) and mirrors the answer. A paid invoice
    cannot be voided: Stripe's refusal is a 422 with its message, and the mirror is left as it was."""
    obj = account_client(account=account).create(
        f"/v1/invoices/{invoice.stripe_id}/void",
        idempotency_key=idempotency_key(account=account, action="payment_link.void", request_id=invoice.stripe_id),
    )
    return mirror_saved(account=account, obj=obj)


def due_timestamp(due: date) -> int:
    """A due date is the whole day, in UTC: the invoice is due at its last second."""
    return int(datetime.combine(due, time(23, 59, 59), tzinfo=UTC).timestamp())


# --- the parts ---------------------------------------------------------------------------------------------------
def _finished(account, link: PaymentLink | None, customer_stripe_id: str) -> Invoice | None:
    """The link's invoice once it is made: named by the row and finalised in the mirror (a draft is a creation
    that stopped half-way, resumed by sending the request again). Conflict if the request id made (or began)
    a link to another customer."""
    if link is None:
        return None
    if link.customer_stripe_id != customer_stripe_id:
        raise Conflict(
            f"The request id {link.request_id!r} was already used for a payment link to another customer: send a "
            "new request id for a new payment link.",
            code="request_id_reused",
        )
    if not link.invoice_stripe_id:
        return None
    return (
        Invoice.objects.for_account(account)
        .filter(stripe_id=link.invoice_stripe_id)
        .exclude(status__in=("", "draft"))
        .first()
    )


def _claim(*, account, user, customer_stripe_id: str, memo: str, request_id: str) -> PaymentLink:
    try:
        with transaction.atomic():
            return PaymentLink.objects.create(
                account=account,
                request_id=request_id,
                customer_stripe_id=customer_stripe_id,
                memo=memo,
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
    except IntegrityError:  # claimed before (a retry, or the same request at once)
        return PaymentLink.objects.get(account=account, request_id=request_id)


def _one_currency(account, line_items: list[LineItem]) -> str:
    """The currency every line is in: an amount's own, a price's from the mirrored catalogue."""
    price_ids = {item.price for item in line_items if item.price}
    prices = dict(
        Price.objects.for_account(account).live().filter(stripe_id__in=price_ids).values_list("stripe_id", "currency")
    )
    problems, currencies = {}, []
    for index, item in enumerate(line_items):
        if item.price and item.price not in prices:
            problems[index] = {"price": [f"No price {item.price} in this account."]}
            continue
        currencies.append((prices[item.price] if item.price else item.currency or "").lower())
    if problems:
        raise _not_found("line_items", problems)  # by index, as the body's own validation names them
    if len(set(currencies)) > 1:
        found = ", ".join(sorted(set(currencies)))
        raise _invalid("line_items", f"All line items must be in one currency (an invoice has one); found {found}.")
    return currencies[0]


def _create_in_stripe(
    *, account, customer_stripe_id, currency, line_items, due_date, days_until_due, memo, request_id
) -> dict:
    client = account_client(account=account)

    def key(action: str) -> str:
        return idempotency_key(account=account, action=action, request_id=request_id)

    terms = {"due_date": due_timestamp(due_date)} if due_date else {"days_until_due": days_until_due}
    invoice = client.create(
        "/v1/invoices",
        idempotency_key=key("payment_link.invoice"),
        customer=customer_stripe_id,
        currency=currency,
        collection_method="send_invoice",
        description=memo or None,
        metadata={PAYMENT_LINK_MARKER: request_id},
        pending_invoice_items_behavior="exclude",
        auto_advance=False,
        **terms,
    )
    for index, item in enumerate(line_items):
        priced = (
            {"price": item.price} if item.price else {"unit_amount": item.amount, "currency": item.currency.lower()}  # type: ignore[union-attr]
        )
        client.create(
            "/v1/invoiceitems",
            idempotency_key=key(f"payment_link.item.{index}"),
            customer=customer_stripe_id,
            invoice=invoice["id"],
            quantity=item.quantity,
            description=item.description,
            **priced,
        )
    return client.create(f"/v1/invoices/{invoice['id']}/finalize", idempotency_key=key("payment_link.finalize"))


def _invalid(field: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{field}: {problem}", code="validation_error", details={"fields": {field: [problem]}})


def _not_found(field: str, problem) -> NotFound:
    """A customer or price the body names that this account does not have: a 404 (another account's is one too),
    naming the field as a validation error does."""
    message = problem if isinstance(problem, str) else "A line item names a price this account does not have."
    return NotFound(
        f"{field}: {message}", details={"fields": {field: [problem] if isinstance(problem, str) else problem}}
    )
