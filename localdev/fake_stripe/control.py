"""`POST /_test/reset`: back to an empty Stripe between tests, without restarting the server."""

from aiohttp import web
from localstripe import webhooks
from localstripe.resources import store

from localdev.fake_stripe import events, faults, idempotency, isolation, keys


async def reset(request: web.Request) -> web.Response:
    store.clear()  # what localstripe's DELETE /_config/data does; prices and sessions live there too
    isolation.reset()
    faults.plan.clear()
    keys.reset()
    idempotency.reset()
    # Webhook endpoints and deliveries too: a test's receiver is gone once it ends, and the next test registers
    # its own. localstripe keeps endpoints in this module-level dict and has no route to remove one.
    webhooks._webhooks.clear()
    events.cancel_pending_deliveries()
    return web.json_response({"reset": True})


def install(app: web.Application) -> None:
    app.router.add_post("/_test/reset", reset)
