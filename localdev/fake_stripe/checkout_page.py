"""The hosted checkout page a session's `url` points at, for people and browser tests on the dev stack.

`GET /checkout/<id>` shows the session with a Pay button and a link back to `cancel_url`; Pay completes it
(checkout_completion.py) and redirects to `success_url`, with `{CHECKOUT_SESSION_ID}` replaced as Stripe does.
"""

from html import escape

from aiohttp import web

from localdev.fake_stripe import isolation
from localdev.fake_stripe.checkout_completion import complete, find_session

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Local Stripe Checkout</title></head>
<body>
<h1>Local Stripe Checkout</h1>
<p>Session <code>{id}</code> ({mode} mode) is <strong id="status">{status}</strong>.</p>
<p>Amount due: <strong id="amount">{amount}</strong> {currency} (smallest currency unit).</p>
{actions}
</body></html>
"""

ACTIONS = """<form method="post" action="/checkout/{id}/pay"><button id="pay" type="submit">Pay</button></form>
<p><a id="cancel" href="{cancel_url}">Cancel</a></p>"""


async def show(request: web.Request) -> web.Response:
    session = find_session(request.match_info["id"])
    actions = ""
    if session.status == "open":
        actions = ACTIONS.format(id=escape(session.id), cancel_url=escape(session.cancel_url or "#"))
    page = PAGE.format(
        id=escape(session.id),
        mode=escape(session.mode),
        status=escape(session.status),
        amount=session.amount_total,
        currency=escape(session.currency.upper()),
        actions=actions,
    )
    return web.Response(text=page, content_type="text/html")


async def pay(request: web.Request) -> web.Response:
    session = find_session(request.match_info["id"])
    with isolation.acting_as(isolation.owner_of(session)):
        complete(session)
    raise web.HTTPSeeOther(session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id))


def install(app: web.Application) -> None:
    app.router.add_get("/checkout/{id}", show)
    app.router.add_post("/checkout/{id}/pay", pay)
