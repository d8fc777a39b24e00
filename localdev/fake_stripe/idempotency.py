"""Idempotency keys, as real Stripe honours them (localstripe ignores the header).

A POST carrying `Idempotency-Key` is answered once; a retry with the same key (per API key and Stripe-Account)
gets the first answer again, with `Idempotent-Replayed: true`. The same key with other parameters is Stripe's
400 `idempotency_error`; while the first request is still running, a second one is 409. Like Stripe, 429s and
5xx are not saved, so a retry after them runs for real.
"""

from aiohttp import web

from localdev.fake_stripe.errors import error_response

_saved: dict[tuple, tuple[str, bytes, int, bytes, str]] = {}
_running: set[tuple] = set()


def reset() -> None:
    _saved.clear()
    _running.clear()


@web.middleware
async def idempotency_middleware(request: web.Request, handler):
    idempotency_key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not idempotency_key or not request.path.startswith("/v1/"):
        return await handler(request)
    scope = (
        request.headers.get("Authorization", ""),
        request.headers.get("Stripe-Account", ""),
        idempotency_key,
    )
    body = await request.read()
    saved = _saved.get(scope)
    if saved is not None:
        path, saved_body, status, response_body, content_type = saved
        if (path, saved_body) != (request.path, body):
            return error_response(
                400,
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                type_="idempotency_error",
            )
        return web.Response(
            status=status, body=response_body, content_type=content_type, headers={"Idempotent-Replayed": "true"}
        )
    if scope in _running:
        return error_response(
            409, "There is currently another in-progress request using this key.", type_="idempotency_error"
        )
    _running.add(scope)
    try:
        response = await handler(request)
    finally:
        _running.discard(scope)
    if response.status != 429 and response.status < 500 and isinstance(response, web.Response) and response.body:
        _saved[scope] = (request.path, body, response.status, bytes(response.body), response.content_type)
    return response
