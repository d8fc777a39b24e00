"""Assembles the fake (localstripe's app plus this package) and serves it on one address, 127.0.0.1 by default.

localstripe's own CLI binds every interface (`::`) and reloads a pickle shared by every instance; this runs its
`app` directly instead. Middlewares, outermost first: faults (an injected 429 answers before anything else, as
Stripe's rate limiter would), keys, idempotency (a replay answers before anything runs), isolation, base URL
(for the hosted pages' URLs), then localstripe's error, auth and save middlewares, and last the replaced routes
(replaced_routes.py), inside localstripe's error handling.
"""

import asyncio
import functools
import logging
import signal

import localstripe.server
from aiohttp import web

from localdev.fake_stripe import (
    accounts,
    backdate,
    base_url,
    checkout,
    checkout_completion,
    checkout_page,
    control,
    declines,
    disputes,
    events,
    faults,
    idempotency,
    invoice_items,
    invoice_page,
    invoices,
    isolation,
    keys,
    ledger,
    money_events,
    payment_methods,
    payouts,
    prices,
    refunds,
    replaced_routes,
    setup_intents,
    store_index,
    subscription_lifecycle,
    subscription_prices,
)
from localdev.fake_stripe.persistence import disable_disk_persistence

# Reached without an API key: the control plane (tests) and the hosted checkout and invoice pages (a browser).
WITHOUT_API_KEY = ("/_test/", "/checkout/", invoices.PATH_PREFIX)
SHUTDOWN_TIMEOUT_SECONDS = 5


def _without_key_for(prefixes: tuple[str, ...], auth_middleware):
    @web.middleware
    async def auth_unless_exempt(request: web.Request, handler):
        if request.path.startswith(prefixes):
            return await handler(request)
        return await auth_middleware(request, handler)

    return auth_unless_exempt


@functools.cache
def build_app() -> web.Application:
    """localstripe's (module-level, single) app, extended once per process."""
    app = localstripe.server.app
    disable_disk_persistence()
    store_index.install()  # before isolation: it wraps the base list this replaces
    events.install()
    isolation.install()
    subscription_prices.install()
    subscription_lifecycle.install()  # after subscription_prices: it wraps the same update
    refunds.install()
    money_events.install()  # after refunds: announces the guarded refunds
    declines.install()
    invoice_items.install()  # after subscription_prices: it extends the invoice lines' `price`
    ledger.install()
    setup_intents.install()
    for module in (keys, faults, prices, checkout, checkout_completion, checkout_page, accounts, control):
        module.install(app)
    for module in (invoices, invoice_page, disputes, payouts, backdate, payment_methods):
        module.install(app)
    subscription_lifecycle.install_routes(app)
    store_index.install_customer_narrowing(app)  # last: it wraps the lists as the modules above left them

    auth_index = app.middlewares.index(localstripe.server.auth_middleware)
    app.middlewares[auth_index] = _without_key_for(WITHOUT_API_KEY, localstripe.server.auth_middleware)
    app.middlewares.append(replaced_routes.replaced_routes_middleware)
    for middleware in (
        base_url.base_url_middleware,
        isolation.isolation_middleware,
        idempotency.idempotency_middleware,
        keys.keys_middleware,
        faults.faults_middleware,
    ):
        app.middlewares.insert(0, middleware)
    return app


async def serve(host: str, port: int, *, access_log: bool = False) -> None:
    """Serves until SIGINT or SIGTERM; prints one ready line with the bound address (port 0 picks a free one)."""
    runner = web.AppRunner(
        build_app(),
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before the ready line: whoever reads it may stop us at once
        loop.add_signal_handler(signum, stop.set)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(f"fake_stripe listening on http://{host}:{runner.addresses[0][1]}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()  # on_shutdown releases hung requests first (faults.py)
