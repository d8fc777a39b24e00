"""Handlers that take over some of localstripe's own routes.

localstripe binds its extra routes (`/v1/invoices/{id}/pay`, `/void`...) to its methods when it is imported, so
patching its classes does not reach them, and aiohttp answers the first route added for a path. This middleware,
innermost (inside localstripe's error and auth middlewares), sends a request whose matched route is a replaced
one to the replacement instead.
"""

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_replacements: dict[tuple[str, str], Handler] = {}


def replace(method: str, path: str, handler: Handler) -> None:
    """`path` as localstripe registered it, e.g. "/v1/invoices/{id}/pay"."""
    _replacements[(method, path)] = handler


@web.middleware
async def replaced_routes_middleware(request: web.Request, handler):
    resource = request.match_info.route.resource
    if resource is not None:
        handler = _replacements.get((request.method, resource.canonical), handler)
    return await handler(request)
