"""Fault injection: the next N requests to a path answer 429, 5xx, or hang.

`POST /_test/faults` {"path": "/v1/customers", "method": "GET", "status": 429 | 500 | 502 | 503 | "hang",
"count": N, "retry_after": s, "hang_seconds": s} arms a fault; the next N requests whose path starts with `path`
(and whose method matches, when given) get it instead of an answer. `GET` lists what is left, `DELETE` disarms
everything and releases hung requests.

A hung request never reaches localstripe, even after its hang ends: a client that timed out must not find, in
the next test's fresh store, an object it was told nothing about.
"""

import asyncio
import threading
from dataclasses import asdict, dataclass

from aiohttp import web
from localstripe.resources import try_convert_to_float, try_convert_to_int
from localstripe.server import get_post_data

from localdev.fake_stripe.errors import error_response, invalid_request

ERROR_STATUSES = (429, 500, 502, 503)
DEFAULT_HANG_SECONDS = 30
CONTROL_PREFIXES = ("/_test/", "/_config/")


@dataclass
class Fault:
    path: str
    method: str | None
    status: int | str
    remaining: int
    retry_after: int | None
    hang_seconds: float


class FaultPlan:
    """Armed faults. `take` checks and consumes under a lock, so two concurrent requests never both get the
    last use of a fault."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._release = asyncio.Event()

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """Consumes one use of the first fault matching this request."""
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path) and fault.method in (None, method):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def remaining(self) -> list[dict]:
        with self._lock:
            return [asdict(fault) for fault in self._faults]

    def clear(self) -> None:
        """Disarms every fault and wakes every hung request."""
        with self._lock:
            self._faults.clear()
            released, self._release = self._release, asyncio.Event()
        released.set()

    async def hang(self, seconds: float) -> None:
        release = self._release
        try:
            await asyncio.wait_for(release.wait(), timeout=seconds)
        except TimeoutError:
            pass


plan = FaultPlan()


def _fault_response(fault: Fault) -> web.Response:
    if fault.status == 429:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
        return error_response(
            429,
            "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
            code="rate_limit",
            headers=headers,
        )
    if fault.status == "hang":
        return error_response(
            504, "The local Stripe hung this request on purpose (fault injection).", type_="api_error"
        )
    return error_response(
        fault.status, "An unexpected error occurred (injected by the local Stripe).", type_="api_error"
    )


@web.middleware
async def faults_middleware(request: web.Request, handler):
    if request.path.startswith(CONTROL_PREFIXES):
        return await handler(request)
    fault = plan.take(request.method, request.path)
    if fault is None:
        return await handler(request)
    if fault.status == "hang":
        await plan.hang(fault.hang_seconds)
    return _fault_response(fault)


def _parse_fault(data) -> Fault:
    path = data.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise invalid_request("`path` must be a path starting with /.", param="path")
    status = data.get("status")
    if status != "hang":
        status = try_convert_to_int(status)
        if status not in ERROR_STATUSES:
            raise invalid_request(f'`status` must be one of {ERROR_STATUSES} or "hang".', param="status")
    count = try_convert_to_int(data.get("count", 1))
    if not isinstance(count, int) or count < 1:
        raise invalid_request("`count` must be a positive integer.", param="count")
    retry_after = data.get("retry_after")
    if retry_after is not None:
        retry_after = try_convert_to_int(retry_after)
        if not isinstance(retry_after, int) or retry_after < 0:
            raise invalid_request("`retry_after` must be a number of seconds.", param="retry_after")
    hang_seconds = try_convert_to_float(data.get("hang_seconds", DEFAULT_HANG_SECONDS))
    if not isinstance(hang_seconds, float) or hang_seconds < 0:
        raise invalid_request("`hang_seconds` must be a number of seconds.", param="hang_seconds")
    method = data.get("method")
    return Fault(
        path=path,
        method=method.upper() if isinstance(method, str) else None,
        status=status,
        remaining=count,
        retry_after=retry_after,
        hang_seconds=hang_seconds,
    )


async def arm_fault(request: web.Request) -> web.Response:
    fault = _parse_fault(await get_post_data(request) or {})
    plan.arm(fault)
    return web.json_response(asdict(fault))


async def list_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": plan.remaining()})


async def clear_faults(request: web.Request) -> web.Response:
    plan.clear()
    return web.json_response({"faults": []})


async def _release_hung_requests(app: web.Application) -> None:
    plan.clear()


def install(app: web.Application) -> None:
    app.router.add_post("/_test/faults", arm_fault)
    app.router.add_get("/_test/faults", list_faults)
    app.router.add_delete("/_test/faults", clear_faults)
    app.on_shutdown.append(_release_hung_requests)
