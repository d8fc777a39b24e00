"""The local Stripe: localstripe's aiohttp app with what it lacks added around it.

localstripe (an in-memory Stripe emulator) answers most of the API in an older shape. This package adds prices,
checkout sessions, `/v1/account`, ad-hoc invoices (payment links) with hosted pages, payouts with their balance
transactions, disputes, declining test cards and tokens, key checks and revocation, `Stripe-Account` isolation,
refusal of over-refunds, fault injection and a `/_test/` control plane (disputes, payouts, backdating, ...), by
wrapping localstripe's classes and adding middlewares and routes to its app before it starts. docs/local-stripe.md
maps the modules and routes. `python -m localdev.fake_stripe --port P` runs it on 127.0.0.1.
"""

from localdev.fake_stripe.server import build_app, serve

__all__ = ["build_app", "serve"]
