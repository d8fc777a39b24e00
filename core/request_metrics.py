"""Request latency for /metrics (docs/observability.md): one histogram by method, route and status class,
recorded by a middleware that runs in sync and async stacks alike.

The route is the URL pattern that matched (`api/v1/billing/customers/<str:pk>/`), never the raw path, so that the
number of series stays bounded whatever clients request; an unmatched path is `<unmatched>`. A method outside
HTTP's usual ones is `other`, for the same reason. The histogram lives in prometheus-client's default registry,
or in its multiprocess files when PROMETHEUS_MULTIPROC_DIR is set (several web processes: observability/metrics.py
reads them all)."""

import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from prometheus_client import Histogram

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"

REQUEST_LATENCY = Histogram(
    "billing_http_request_duration_seconds",
    "Time from a request entering Django's middleware to its response (headers, for a streamed one).",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    return (match.route or UNMATCHED) if match is not None else UNMATCHED


def observe(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in KNOWN_METHODS else "other"
    REQUEST_LATENCY.labels(method, route, f"{status // 100}xx").observe(seconds)


class RequestMetricsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        observe(request.method, route_of(request), response.status_code, time.perf_counter() - started)
        return response

    async def _acall(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        observe(request.method, route_of(request), response.status_code, time.perf_counter() - started)
        return response
