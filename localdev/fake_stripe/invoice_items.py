"""`POST /v1/invoiceitems` with today's parameters: `price` or `unit_amount` with a `quantity`, and `invoice=`.

localstripe's invoice items take an `amount` (and a legacy `plan`) only, always have a quantity of 1, and an item
created with `invoice=` names the invoice without appearing on it. Here:
- `amount` (the line's total) + `currency`; or `price` (a one-time price, prices.py) or `unit_amount` +
  `currency`, times `quantity` (default 1);
- `invoice=<draft invoice>` puts the item on that invoice at once (a finalized one is refused, as Stripe does),
  and an empty invoice takes the currency of its first item; without it the item is pending and goes on the
  customer's next invoice created with `pending_invoice_items_behavior=include`;
- the item and its invoice line show the `price` (an object) and `quantity`.
"""

from localstripe.resources import Invoice, InvoiceItem, InvoiceLineItem, try_convert_to_int

from localdev.fake_stripe.errors import invalid_request, missing_parameter
from localdev.fake_stripe.prices import Price


def _positive_int(value, param: str, *, allow_zero: bool = False) -> int:
    number = try_convert_to_int(value)
    if not isinstance(number, int) or isinstance(number, bool) or number < (0 if allow_zero else 1):
        raise invalid_request(f"Invalid {'non-negative' if allow_zero else 'positive'} integer", param=param)
    return number


def _draft_invoice(invoice_id) -> Invoice | None:
    if invoice_id is None:
        return None
    invoice = Invoice._api_retrieve(invoice_id)  # 404 when absent or another account's
    if invoice.status != "draft":
        raise invalid_request(
            f"You can only add invoice items to draft invoices. Invoice {invoice.id} is {invoice.status}.",
            code="invoice_not_editable",
            param="invoice",
        )
    return invoice


def _priced(data: dict) -> tuple[dict, Price | None, int]:
    """localstripe's parameters (amount, currency) for today's ones; the price and quantity to show."""
    data = dict(data)
    quantity = _positive_int(data.pop("quantity", 1), "quantity")
    price_id, unit_amount = data.pop("price", None), data.pop("unit_amount", None)
    given = [
        name
        for name, value in (("amount", data.get("amount")), ("price", price_id), ("unit_amount", unit_amount))
        if value is not None
    ]
    if len(given) > 1:
        raise invalid_request(f"You may only specify one of these parameters: {', '.join(given)}.", param=given[1])
    price = None
    if price_id is not None:
        price = Price._api_retrieve(price_id)
        if price.type != "one_time":
            raise invalid_request(
                f"The price specified ({price.id}) is a recurring price: invoice items take one-time prices.",
                param="price",
            )
        if data.get("currency") not in (None, price.currency):
            raise invalid_request("The currency must match the price's currency.", param="currency")
        data.update(amount=price.unit_amount * quantity, currency=price.currency)
    elif unit_amount is not None:
        data["amount"] = _positive_int(unit_amount, "unit_amount", allow_zero=True) * quantity
    elif data.get("amount") is None:
        raise missing_parameter("amount")
    if data.get("currency") is None:
        raise missing_parameter("currency")
    if isinstance(data["currency"], str):
        data["currency"] = data["currency"].lower()
    return data, price, quantity


def install() -> None:
    create_item = InvoiceItem._api_create.__func__
    line_init = InvoiceLineItem.__init__

    def item_create(cls, **data):
        data, price, quantity = _priced(data)
        invoice = _draft_invoice(data.get("invoice"))
        if invoice is not None and invoice.lines._list and data["currency"] != invoice.currency:
            raise invalid_request(
                f"The invoice item's currency ({data['currency']}) must match the invoice's ({invoice.currency}).",
                param="currency",
            )
        item = create_item(cls, **data)
        item.quantity = quantity
        item._price = price
        if invoice is not None:
            if not invoice.lines._list:
                invoice.currency = item.currency
            invoice.lines._list.append(InvoiceLineItem(item))
        return item

    def line_with_price(self, item):
        line_init(self, item)
        self._price = getattr(item, "_price", None)

    def item_price(item):
        price = getattr(item, "_price", None)
        return price._export() if price is not None else None

    InvoiceItem._api_create = classmethod(item_create)
    InvoiceItem.price = property(item_price)
    InvoiceLineItem.__init__ = line_with_price
    line_price = InvoiceLineItem.price  # subscription_prices.py's: the price of a subscription line's plan
    InvoiceLineItem.price = property(lambda line: item_price(line) or line_price.fget(line))
