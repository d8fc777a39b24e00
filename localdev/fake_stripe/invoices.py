"""Invoices in today's shape: ad-hoc ones sent to the customer, finalisation with a hosted page, pay and void.

localstripe creates an invoice only from pending items or a subscription, finalises and pays it at once, has no
finalize route, no `send_invoice`, no number nor hosted URL, and its void fails on an invoice without a payment
intent. Here, besides what localstripe does for subscriptions (whose invoices now also get a number, a hosted URL
and the `invoice.finalized` / `invoice.paid` events):
- `POST /v1/invoices` {customer, collection_method (charge_automatically | send_invoice), days_until_due |
  due_date (send_invoice only, one of them required), description, metadata, currency, auto_advance,
  pending_invoice_items_behavior (exclude, today's default | include)}: a draft; `invoice.created`;
- `POST /v1/invoices/<id>/finalize`: a draft becomes `open` with a `number` and a `hosted_invoice_url` (the page
  of invoice_page.py on this server), or `paid` when nothing is due; `invoice.finalized`;
- `POST /v1/invoices/<id>/pay` {payment_method?, paid_out_of_band?}: a draft is finalised first; charged to the
  given or the customer's default payment method (a declined card answers 402 card_error and the invoice stays
  open), or marked paid out of band; `invoice.paid` and `invoice.payment_succeeded`;
- `POST /v1/invoices/<id>/void`: an open invoice becomes `void`; a draft, paid or void one is a 400;
  `invoice.voided`;
- `GET /v1/invoices` filters `customer`, `status`, `collection_method`, `subscription`, newest first.
"""

import time

from aiohttp import web
from localstripe.resources import (
    Customer,
    Invoice,
    InvoiceItem,
    InvoiceLineItem,
    PaymentIntent,
    PaymentMethod,
    Subscription,
    store,
    try_convert_to_bool,
    try_convert_to_int,
)
from localstripe.server import get_post_data, json_response, unflatten_data

from localdev.fake_stripe import events, replaced_routes
from localdev.fake_stripe.base_url import public_url
from localdev.fake_stripe.errors import invalid_request, missing_parameter, unknown_parameter

COLLECTION_METHODS = ("charge_automatically", "send_invoice")
PENDING_BEHAVIORS = ("exclude", "include")
PATH_PREFIX = "/invoice/"  # the hosted invoice page (invoice_page.py)
STATUSES = ("draft", "open", "paid", "uncollectible", "void")
DAY = 24 * 3600
# localstripe's own parameters: an invoice with these takes its path (subscriptions, taxes)
LEGACY_PARAMS = ("subscription", "tax_percent", "default_tax_rates")


def _defaults(invoice: Invoice) -> None:
    """Today's fields localstripe lacks, on every invoice (subscription ones included)."""
    invoice.number = None
    invoice.hosted_invoice_url = None
    invoice.invoice_pdf = None
    invoice.due_date = None
    invoice.days_until_due = None
    invoice.auto_advance = False
    invoice.paid_out_of_band = False
    invoice.billing_reason = "subscription_create" if invoice.subscription else "manual"
    invoice.effective_at = None


def _send_invoice_terms(collection_method, days_until_due, due_date) -> tuple[int | None, int | None]:
    if collection_method != "send_invoice":
        if days_until_due is not None or due_date is not None:
            raise invalid_request(
                "`days_until_due` and `due_date` are only for invoices with `collection_method=send_invoice`.",
                param="days_until_due" if days_until_due is not None else "due_date",
            )
        return None, None
    if days_until_due is not None and due_date is not None:
        raise invalid_request(
            "You may only specify one of these parameters: days_until_due, due_date.", param="due_date"
        )
    if days_until_due is None and due_date is None:
        raise invalid_request(
            "Invoices with `collection_method=send_invoice` need `days_until_due` or `due_date`.",
            param="days_until_due",
        )
    now = int(time.time())
    if days_until_due is not None:
        days = try_convert_to_int(days_until_due)
        if not isinstance(days, int) or isinstance(days, bool) or days < 0:
            raise invalid_request("Invalid non-negative integer", param="days_until_due")
        return days, now + days * DAY
    due = try_convert_to_int(due_date)
    if not isinstance(due, int) or isinstance(due, bool):
        raise invalid_request("Invalid integer", param="due_date")
    if due <= now:
        raise invalid_request("The invoice's due date must be in the future.", param="due_date")
    return None, due


def _create(
    customer=None,
    collection_method="charge_automatically",
    days_until_due=None,
    due_date=None,
    description=None,
    metadata=None,
    currency=None,
    auto_advance=None,
    pending_invoice_items_behavior="exclude",
    **kwargs,
) -> Invoice:
    if kwargs:
        raise unknown_parameter(next(iter(kwargs)))
    if customer is None:
        raise missing_parameter("customer")
    if collection_method not in COLLECTION_METHODS:
        raise invalid_request(
            f"Invalid collection_method: must be one of {', '.join(COLLECTION_METHODS)}", param="collection_method"
        )
    if pending_invoice_items_behavior not in PENDING_BEHAVIORS:
        raise invalid_request(
            "Invalid pending_invoice_items_behavior: must be one of exclude, include",
            param="pending_invoice_items_behavior",
        )
    if metadata is not None and not isinstance(metadata, dict):
        raise invalid_request("Invalid object", param="metadata")
    if description is not None and not isinstance(description, str):
        raise invalid_request("Invalid string", param="description")
    if currency is not None and (not isinstance(currency, str) or len(currency) != 3):
        raise invalid_request(f"Invalid currency: {currency}", param="currency")
    auto_advance = try_convert_to_bool(auto_advance) if auto_advance is not None else False
    if not isinstance(auto_advance, bool):
        raise invalid_request("Invalid boolean", param="auto_advance")
    days, due = _send_invoice_terms(collection_method, days_until_due, due_date)
    Customer._api_retrieve(customer)  # 404 when absent or another account's
    pending = []
    if pending_invoice_items_behavior == "include":
        pending = InvoiceItem._api_list_all(None, customer=customer, limit=99)._list  # those on no invoice

    # simulation: localstripe neither takes the pending items nor sends its event; both are done here.
    invoice = Invoice(customer=customer, description=description, metadata=metadata, simulation=True)
    for line in invoice.lines._list:
        del store[f"{line.object}:{line.id}"]
    invoice.lines._list = []
    for item in reversed(pending):  # oldest first, as they were added
        item.invoice = invoice.id
        invoice.lines._list.append(InvoiceLineItem(item))
    invoice.currency = invoice.lines._list[0].currency if pending else (currency or "usd").lower()
    invoice.attempted, invoice.attempt_count = False, 0
    invoice.collection_method = collection_method
    invoice.days_until_due, invoice.due_date = days, due
    invoice.auto_advance = auto_advance
    invoice.period_start = invoice.period_end = invoice.created
    events.emit("invoice.created", invoice)
    return invoice


def _next_number(invoice: Invoice) -> str:
    customer = Customer._api_retrieve(invoice.customer)
    sequence = getattr(customer, "_invoice_sequence", 0) + 1
    customer._invoice_sequence = sequence
    return f"{customer.id[-8:].upper()}-{sequence:04d}"


def _mark_paid(invoice: Invoice) -> None:
    invoice.status_transitions["paid_at"] = invoice.status_transitions["paid_at"] or int(time.time())
    events.emit("invoice.paid", invoice)


def finalize(id, auto_advance=None, **kwargs) -> Invoice:
    if kwargs:
        raise unknown_parameter(next(iter(kwargs)))
    invoice = Invoice._api_retrieve(id)
    if invoice.status != "draft":
        raise invalid_request(
            f"This invoice is already finalized ({invoice.status}): only a draft invoice can be finalized.",
            code="invoice_not_editable",
        )
    if auto_advance is not None:
        invoice.auto_advance = try_convert_to_bool(auto_advance) is True
    invoice._finalize()
    return invoice


def pay(id, payment_method=None, paid_out_of_band=None, off_session=None, **kwargs) -> Invoice:
    if kwargs:
        raise unknown_parameter(next(iter(kwargs)))
    invoice = Invoice._api_retrieve(id)
    if invoice.status == "paid":
        raise invalid_request("Invoice is already paid", code="invoice_already_paid")  # not a Stripe code
    if invoice.status == "void":
        raise invalid_request(f"Invoice {invoice.id} is void: a void invoice cannot be paid.")
    out_of_band = try_convert_to_bool(paid_out_of_band) is True
    if payment_method is not None and out_of_band:
        raise invalid_request("You may not pass `payment_method` with `paid_out_of_band`.", param="payment_method")
    if invoice.status == "draft":
        invoice._finalize()
        if invoice.status == "paid":  # nothing was due
            return invoice
    if out_of_band:
        invoice._paid_out_of_band = invoice.paid_out_of_band = True
        _mark_paid(invoice)
        return invoice
    customer = Customer._api_retrieve(invoice.customer)
    method = (
        PaymentMethod._api_retrieve(payment_method)
        if payment_method
        else customer._get_default_payment_method_or_source()
    )
    if method is None:
        raise invalid_request(
            "This customer has no attached payment source or default payment method.",
            code="invoice_no_customer_payment_method",  # not a Stripe code
        )
    intent = PaymentIntent(
        amount=invoice.total, currency=invoice.currency, customer=invoice.customer, payment_method=method.id
    )
    intent.invoice = invoice.id
    invoice.payment_intent = intent.id
    invoice.attempted, invoice.attempt_count = True, invoice.attempt_count + 1
    try:
        intent._confirm(on_failure_now=intent._report_failure)  # a decline raises Stripe's 402 card_error
    finally:
        if intent.latest_charge is not None:
            intent.latest_charge.invoice = invoice.id
    return invoice


def void(id, **kwargs) -> Invoice:
    if kwargs:
        raise unknown_parameter(next(iter(kwargs)))
    invoice = Invoice._api_retrieve(id)
    if invoice.status != "open":
        reason = "delete a draft instead" if invoice.status == "draft" else f"this one is {invoice.status}"
        raise invalid_request(
            f"You can only void an open or uncollectible invoice ({reason}).", code="invoice_not_open"
        )  # not a Stripe code
    if invoice.payment_intent and PaymentIntent._api_retrieve(invoice.payment_intent).status != "canceled":
        PaymentIntent._api_retrieve(invoice.payment_intent)._canceled = True
    invoice._voided = True
    invoice.status_transitions["voided_at"] = int(time.time())
    if invoice.subscription:
        Subscription._api_retrieve(invoice.subscription)._on_initial_payment_voided(invoice)
    events.emit("invoice.voided", invoice)
    return invoice


def _list(
    cls,
    url,
    customer=None,
    status=None,
    collection_method=None,
    subscription=None,
    limit=None,
    starting_after=None,
    **kwargs,
):
    if kwargs:
        raise unknown_parameter(next(iter(kwargs)))
    if status is not None and status not in STATUSES:
        raise invalid_request(f"Invalid status: must be one of {', '.join(STATUSES)}", param="status")
    page = _list_all(cls, url, customer=customer, subscription=subscription, limit=limit, starting_after=starting_after)
    if status is not None:
        page._list = [invoice for invoice in page._list if invoice.status == status]
    if collection_method is not None:
        page._list = [invoice for invoice in page._list if invoice.collection_method == collection_method]
    return page


_list_all = Invoice._api_list_all.__func__


def _extra(func):
    async def handler(request: web.Request) -> web.Response:
        data = await get_post_data(request) or {}
        data.update(unflatten_data(request.query) or {})
        expand = data.pop("expand", None)
        return json_response(func(request.match_info["id"], **data)._export(expand=expand))

    return handler


def install(app: web.Application) -> None:
    create = Invoice._api_create.__func__
    init = Invoice.__init__
    finalize_invoice = Invoice._finalize
    on_payment_success = Invoice._on_payment_success
    status = Invoice.status

    def invoice_create(cls, **data):
        if any(data.get(name) is not None for name in LEGACY_PARAMS):
            return create(cls, **data)
        return _create(**data)

    def invoice_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _defaults(self)

    def finalized(self):
        finalize_invoice(self)
        self.number = _next_number(self)
        self.hosted_invoice_url = public_url(f"{PATH_PREFIX}{self.id}")
        self.effective_at = self.status_transitions["finalized_at"]
        events.emit("invoice.finalized", self)
        if self.status == "paid":  # nothing due: Stripe marks it paid at once
            _mark_paid(self)

    def payment_succeeded(self):
        on_payment_success(self)
        events.emit("invoice.paid", self)

    def invoice_status(self):
        current = status.fget(self)
        return "paid" if current == "open" and getattr(self, "_paid_out_of_band", False) else current

    Invoice._api_create = classmethod(invoice_create)
    Invoice._api_list_all = classmethod(_list)
    Invoice.__init__ = invoice_init
    Invoice._finalize = finalized
    Invoice._on_payment_success = payment_succeeded
    Invoice.status = property(invoice_status)
    Invoice.amount_remaining = property(lambda invoice: max(invoice.amount_due - invoice.amount_paid, 0))
    app.router.add_post("/v1/invoices/{id}/finalize", _extra(finalize))
    replaced_routes.replace("POST", "/v1/invoices/{id}/pay", _extra(pay))
    replaced_routes.replace("POST", "/v1/invoices/{id}/void", _extra(void))
