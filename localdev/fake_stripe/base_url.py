"""The address the current request reached this server on, for URLs the fake hands out (hosted invoice pages).

Stripe's hosted URLs point at Stripe; ours point at this server, at whatever address the API call came in on
(127.0.0.1 and a test's port, or the dev stack's), so a URL handed to a browser opens.
"""

import contextvars

from aiohttp import web

_base_url: contextvars.ContextVar[str | None] = contextvars.ContextVar("base_url", default=None)


def public_url(path: str) -> str | None:
    """`path` on this server, None outside a request."""
    base = _base_url.get()
    return f"{base}{path}" if base else None


@web.middleware
async def base_url_middleware(request: web.Request, handler):
    token = _base_url.set(f"{request.scheme}://{request.host}")
    try:
        return await handler(request)
    finally:
        _base_url.reset(token)
