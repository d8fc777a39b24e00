"""The hosted invoice page a finalised invoice's `hosted_invoice_url` points at (`GET /invoice/<id>`).

It shows the invoice (number, status, lines, amount due, due date) and, while it is open, a Pay button that pays
it with a working test card as the customer would (`POST /invoice/<id>/pay`, then back to the page). Reached
without an API key, like the hosted checkout page. The URL is built from the address the finalising request
came in on (base_url.py), so it opens wherever the API was reached.
"""

from html import escape

from aiohttp import web
from localstripe.resources import Customer, Invoice, PaymentMethod

from localdev.fake_stripe import isolation
from localdev.fake_stripe.errors import no_such
from localdev.fake_stripe.invoices import PATH_PREFIX
from localdev.fake_stripe.invoices import pay as pay_invoice

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Invoice {number}</title></head>
<body>
<h1>Invoice <span id="number">{number}</span></h1>
<p>Invoice <code>{id}</code> is <strong id="status">{status}</strong>.</p>
<table id="lines"><tr><th>Description</th><th>Quantity</th><th>Amount</th></tr>{lines}</table>
<p>Amount due: <strong id="amount">{amount}</strong> {currency} (smallest currency unit){due}.</p>
{memo}{actions}
</body></html>
"""

LINE = "<tr><td>{description}</td><td>{quantity}</td><td>{amount}</td></tr>"
PAY = """<form method="post" action="/invoice/{id}/pay"><button id="pay" type="submit">Pay</button></form>"""


def _find(invoice_id: str) -> Invoice:
    """Any account's finalised invoice: the page is public, as Stripe's is."""
    invoice = isolation.find_unchecked(Invoice.object, invoice_id)
    if invoice is None or invoice.status == "draft":
        raise no_such(Invoice.object, invoice_id)
    return invoice


async def show(request: web.Request) -> web.Response:
    invoice = _find(request.match_info["id"])
    lines = "".join(
        LINE.format(description=escape(line.description or ""), quantity=line.quantity, amount=line.amount)
        for line in invoice.lines._list
    )
    due = f', due <span id="due">{invoice.due_date}</span> (epoch seconds)' if invoice.due_date else ""
    page = PAGE.format(
        id=escape(invoice.id),
        number=escape(invoice.number or ""),
        status=escape(invoice.status),
        lines=lines,
        amount=invoice.amount_remaining,
        currency=escape(invoice.currency.upper()),
        due=due,
        memo=f'<p id="memo">{escape(invoice.description)}</p>' if invoice.description else "",
        actions=PAY.format(id=escape(invoice.id)) if invoice.status == "open" else "",
    )
    return web.Response(text=page, content_type="text/html")


async def pay(request: web.Request) -> web.Response:
    invoice = _find(request.match_info["id"])
    with isolation.acting_as(isolation.owner_of(invoice)):
        if invoice.status == "open":
            card = PaymentMethod._api_retrieve("pm_card_visa")  # a fresh working card, as a customer types one
            PaymentMethod._api_attach(card.id, customer=Customer._api_retrieve(invoice.customer).id)
            pay_invoice(invoice.id, payment_method=card.id)
    raise web.HTTPSeeOther(f"{PATH_PREFIX}{invoice.id}")


def install(app: web.Application) -> None:
    app.router.add_get(PATH_PREFIX + "{id}", show)
    app.router.add_post(PATH_PREFIX + "{id}/pay", pay)
