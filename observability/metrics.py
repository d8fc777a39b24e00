"""/metrics: the Prometheus exposition, behind a bearer token (settings.METRICS_TOKEN).

No token configured: 404, the endpoint is off. A missing token: 401; a wrong one: 403; neither says more. With
PROMETHEUS_MULTIPROC_DIR set (several web processes, docs/observability.md) the request histogram is read from
every process's files, else from this process's registry; the database and broker series are read at each scrape
(observability/collector.py)."""

import hmac
import os

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from observability.collector import DatabaseCollector


def process_registry() -> CollectorRegistry:
    """The web processes' own series: every process's files in multiprocess mode, else this process's registry
    (the request histogram, process and GC metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    return registry


def _registry() -> CollectorRegistry:
    registry = process_registry()
    registry.register(DatabaseCollector())
    return registry


def _authorised(request) -> int | None:
    """None when the request carries the token, else the status to answer."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return 401
    if not hmac.compare_digest(presented.strip().encode(), settings.METRICS_TOKEN.encode()):
        return 403
    return None


@require_GET
def metrics(request):
    if not settings.METRICS_TOKEN:
        return HttpResponse(status=404)
    refused = _authorised(request)
    if refused == 401:
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    if refused:
        return HttpResponse(status=refused)
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
