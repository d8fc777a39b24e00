"""API keys: Stripe's answers for a malformed key and for a revoked one.

localstripe accepts any `sk_` key and answers a bare 401 "Unauthorized" otherwise. Here a key must look like a
real secret or restricted key, and a key revoked through `POST /_test/keys/revoke` gets Stripe's
`api_key_expired` answer, so code that reacts to a rotated key can be tested. A request without any key is left
to localstripe (which also lets Stripe.js calls authenticate with a publishable key in the body).
"""

import base64
import binascii

import localstripe.server
from aiohttp import web
from localstripe.server import get_post_data

from localdev.fake_stripe.errors import error_response, missing_parameter

VALID_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")

_revoked: set[str] = set()


def api_key_of(request: web.Request) -> str | None:
    """The key of a `Bearer` or `Basic` Authorization header ("" when the header is malformed), None without one."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme == "Bearer":
        return credentials.strip()
    if scheme == "Basic":
        try:
            return base64.b64decode(credentials).decode("utf-8").split(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def _masked(key: str) -> str:
    prefix = next((p for p in VALID_PREFIXES if key.startswith(p)), key[:3])
    return f"{prefix}{'*' * max(len(key) - len(prefix) - 4, 0)}{key[-4:]}"


def reset() -> None:
    _revoked.clear()


@web.middleware
async def keys_middleware(request: web.Request, handler):
    key = api_key_of(request)
    if request.path.startswith("/v1/") and key is not None:
        if key in _revoked:
            return error_response(401, f"Expired API Key provided: {_masked(key)}", code="api_key_expired")
        if not key.startswith(VALID_PREFIXES):
            return error_response(401, f"Invalid API Key provided: {_masked(key)}")
    return await handler(request)


def _localstripe_api_key(request: web.Request) -> str | None:
    """Replaces localstripe's own parser, which only knows `sk_` keys and crashes on other auth schemes."""
    key = api_key_of(request)
    return key if key and key.startswith(VALID_PREFIXES) else None


async def revoke(request: web.Request) -> web.Response:
    data = await get_post_data(request, remove_auth=False) or {}
    key = data.get("key")
    if not isinstance(key, str) or not key:
        raise missing_parameter("key")
    _revoked.add(key)
    return web.json_response({"revoked": len(_revoked)})


async def clear_revoked(request: web.Request) -> web.Response:
    reset()
    return web.json_response({"revoked": 0})


def install(app: web.Application) -> None:
    localstripe.server.get_api_key = _localstripe_api_key
    app.router.add_post("/_test/keys/revoke", revoke)
    app.router.add_delete("/_test/keys/revoke", clear_revoked)
