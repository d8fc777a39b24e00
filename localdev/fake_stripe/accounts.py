"""`GET /v1/account` and `GET /v1/accounts/<id>`, which localstripe lacks.

Code that checks a key or a Connect connection asks Stripe who it is talking to (dj-stripe does it for every
event). Without a `Stripe-Account` header the answer is the platform; with one, that connected account. Any
`acct_` id is a connected account here: the fake has no account registry to refuse an unknown one.
"""

import time

from aiohttp import web
from localstripe.server import json_response

from localdev.fake_stripe import isolation
from localdev.fake_stripe.errors import no_such

PLATFORM_ACCOUNT_ID = "acct_1LocalStripePlatform"
_STARTED_AT = int(time.time())


def account_object(account_id: str) -> dict:
    platform = account_id == PLATFORM_ACCOUNT_ID
    name = "Local Stripe platform" if platform else f"Connected account {account_id}"
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {"name": name, "url": None, "support_email": None, "mcc": None},
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account" if platform else "application"},
        "country": "US",
        "created": _STARTED_AT,
        "default_currency": "usd",
        "details_submitted": True,
        "email": "platform@example.com" if platform else f"{account_id}@example.com",
        "livemode": False,
        "metadata": {},
        "payouts_enabled": True,
        "settings": {"dashboard": {"display_name": name, "timezone": "Etc/UTC"}},
        "type": "standard",
    }


async def current_account(request: web.Request) -> web.Response:
    return json_response(account_object(isolation.current_account() or PLATFORM_ACCOUNT_ID))


async def connected_account(request: web.Request) -> web.Response:
    account_id = request.match_info["id"]
    if not account_id.startswith("acct_"):
        raise no_such("account", account_id)
    return json_response(account_object(account_id))


def install(app: web.Application) -> None:
    app.router.add_get("/v1/account", current_account)
    app.router.add_get("/v1/accounts/{id}", connected_account)
