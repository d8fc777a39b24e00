"""Health for load balancers and orchestrators.

- /healthz/live: the process answers; no dependency is touched (a restart is the only cure it may trigger).
- /healthz/ready (and /healthz, its old name): the database, the broker, and the webhook backlog (the oldest pending
  event has waited less than WEBHOOK_READY_BACKLOG_SECONDS); 503 when one fails.

Anyone may call them, so they answer ok / failed per check and nothing else: an exception's class or message would
tell a stranger what we run. The reason goes to the log instead."""

import logging

from celery import current_app as celery_app
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from observability.collector import oldest_pending_webhook_age

logger = logging.getLogger(__name__)


def _database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True


def _broker() -> bool:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return True


def _webhook_backlog() -> bool:
    age = oldest_pending_webhook_age()
    if age >= settings.WEBHOOK_READY_BACKLOG_SECONDS:
        logger.warning("not ready: the oldest pending webhook event has waited %.0f s", age)
        return False
    return True


CHECKS = {"database": _database, "broker": _broker, "webhook_backlog": _webhook_backlog}


def _run(name, check) -> bool:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a health check reports, it never raises
        logger.warning("not ready: %s check failed (%s: %s)", name, exc.__class__.__name__, exc)
        return False


def live(request):
    return JsonResponse({"status": "ok"})


def ready(request):
    results = {name: {"ok": _run(name, check)} for name, check in CHECKS.items()}
    healthy = all(result["ok"] for result in results.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **results}, status=200 if healthy else 503)
