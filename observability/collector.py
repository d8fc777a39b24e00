"""The series read at scrape time from the database and the broker (docs/observability.md lists each).

A handful of aggregate queries per scrape, each served by an index, never a query per row:
- webhook events by status and relationship, for the statuses that stay few (pending, processing, failed, dead):
  `webhook_event_status_idx` (status, -received_at) ranges over those statuses only;
- processed events and attributions: counted incrementally above a mark (observability/counts.py: a COUNT of
  all processed rows costs ~1 s per 2 million), exposed as counters so that `rate()` gives events per second;
- the oldest pending event: the first entry of the `pending` range of that index;
- sync runs, import jobs: GROUP BY status on small tables;
- the last consistency checks (core.models.CheckResult);
- each Celery queue's length in the broker's Redis (LLEN, the priority sub-queues included)."""

import logging
import time

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, F, Max, Min
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from billing.models import SyncRun, WebhookEvent
from contacts_import.models import ImportJob
from core.models import CheckResult
from metering.models import Attribution
from observability.counts import IncrementalCount

logger = logging.getLogger(__name__)

OPEN_WEBHOOK_STATUSES = (
    WebhookEvent.Status.PENDING,
    WebhookEvent.Status.PROCESSING,
    WebhookEvent.Status.FAILED,
    WebhookEvent.Status.DEAD,
)
# kombu's Redis transport keeps a queue's messages of priority > 0 in lists of their own: "<queue>\x06\x16<n>".
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
KOMBU_PRIORITY_SEP = "\x06\x16"


def _webhook_settled_below() -> int:
    """Below the oldest event still to be worked on (pending, processing, failed), or past the newest: a dead
    letter does not hold it back (it waits for staff; a replay makes it pending, which moves the mark down)."""
    open_statuses = (WebhookEvent.Status.PENDING, WebhookEvent.Status.PROCESSING, WebhookEvent.Status.FAILED)
    # MIN(id + 0), not MIN(id): given MIN(id), PostgreSQL walks the primary key from its start looking for an open
    # row, through every settled one (1.25 s over 2 million); over an expression it reads the few open rows
    # through the status index instead (~10 ms).
    oldest_open = WebhookEvent.objects.filter(status__in=open_statuses).aggregate(m=Min(F("id") + 0))["m"]
    if oldest_open is not None:
        return oldest_open
    return (WebhookEvent.objects.aggregate(m=Max("id"))["m"] or 0) + 1


def _attributions_settled_below() -> int:
    return (Attribution.objects.aggregate(m=Max("id"))["m"] or 0) + 1  # written once, never changed


# Per process: each counts its settled rows once (observability/counts.py).
PROCESSED_EVENTS = IncrementalCount(
    lambda: WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).order_by(), _webhook_settled_below
)
ATTRIBUTIONS = IncrementalCount(lambda: Attribution.objects.order_by(), _attributions_settled_below)


def oldest_pending_webhook_age() -> float:
    """Seconds the oldest pending webhook event has waited; 0 with none pending."""
    oldest = WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING).aggregate(oldest=Min("received_at"))
    if oldest["oldest"] is None:
        return 0.0
    return max(0.0, (timezone.now() - oldest["oldest"]).total_seconds())


def _webhook_series():
    by_status = GaugeMetricFamily(
        "billing_webhook_events",
        "Webhook events waiting or stuck, by status (pending, processing, failed: retry scheduled, dead: dead "
        "letter) and relationship.",
        labels=["status", "relationship"],
    )
    counts = {(status, rel): 0 for status in OPEN_WEBHOOK_STATUSES for rel in WebhookEvent.Relationship.values}
    rows = (
        WebhookEvent.objects.filter(status__in=OPEN_WEBHOOK_STATUSES)
        .order_by()
        .values_list("status", "relationship")
        .annotate(n=Count("id"))
    )
    for status, relationship, n in rows:
        counts[(status, relationship)] = n
    for (status, relationship), n in sorted(counts.items()):
        by_status.add_metric([status, relationship], n)
    yield by_status

    yield CounterMetricFamily(
        "billing_webhook_events_processed",
        "Webhook events processed (rows in status processed): rate() gives events per second.",
        value=PROCESSED_EVENTS.value(),
    )

    yield GaugeMetricFamily(
        "billing_webhook_oldest_pending_age_seconds",
        "How long the oldest pending webhook event has waited for a worker (0 with none pending).",
        value=oldest_pending_webhook_age(),
    )


def _grouped(name: str, documentation: str, label: str, model, choices) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    counts = dict.fromkeys(choices, 0)
    counts.update(dict(model.objects.order_by().values_list("status").annotate(n=Count("id"))))
    for value, n in sorted(counts.items()):
        family.add_metric([value], n)
    return family


def _check_series():
    ok = GaugeMetricFamily(
        "billing_ledger_check_ok",
        "1 when the last run of the check found every balance equal to its ledger.",
        labels=["check"],
    )
    problems = GaugeMetricFamily(
        "billing_ledger_check_problems",
        "Balances the last run of the check found different from their ledger.",
        labels=["check"],
    )
    checked = GaugeMetricFamily(
        "billing_ledger_check_timestamp_seconds", "When the check last ran (Unix time).", labels=["check"]
    )
    for result in CheckResult.objects.order_by("name"):
        ok.add_metric([result.name], 1 if result.ok else 0)
        problems.add_metric([result.name], result.problems)
        checked.add_metric([result.name], result.checked_at.timestamp())
    return ok, problems, checked


def queue_depths() -> dict[str, int] | None:
    """Messages waiting in each Celery queue, from the broker's Redis; None when the broker is not Redis."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        with client.pipeline(transaction=False) as pipe:
            names = [queue.name for queue in settings.CELERY_TASK_QUEUES]
            for name in names:
                for step in KOMBU_PRIORITY_STEPS:
                    pipe.llen(name if step == 0 else f"{name}{KOMBU_PRIORITY_SEP}{step}")
            lengths = pipe.execute()
    finally:
        client.close()
    steps = len(KOMBU_PRIORITY_STEPS)
    return {name: sum(lengths[i * steps : (i + 1) * steps]) for i, name in enumerate(names)}


def _queue_series():
    up = GaugeMetricFamily("billing_celery_broker_up", "1 when the broker's Redis answered this scrape.")
    depth = GaugeMetricFamily(
        "billing_celery_queue_depth",
        "Messages waiting in a Celery queue (not yet fetched by a worker).",
        labels=["queue"],
    )
    try:
        depths = queue_depths()
    except redis.RedisError as exc:
        logger.warning("metrics: the broker did not answer (%s)", exc.__class__.__name__)
        up.add_metric([], 0)
        return (up,)
    if depths is None:  # the in-process broker of one-off commands and tests: nothing to count
        return ()
    up.add_metric([], 1)
    for name, n in depths.items():
        depth.add_metric([name], n)
    return up, depth


def _database_series():
    yield from _webhook_series()
    yield _grouped(
        "billing_sync_runs", "Sync runs of accounts' Stripe by state.", "state", SyncRun, SyncRun.Status.values
    )
    yield _grouped(
        "billing_import_jobs", "Contact import jobs by status.", "status", ImportJob, ImportJob.Status.values
    )
    yield CounterMetricFamily(
        "billing_attributions",
        "Metered operations recorded (attribution rows): rate() gives attributions per second.",
        value=ATTRIBUTIONS.value(),
    )
    yield from _check_series()


class DatabaseCollector:
    """A prometheus-client custom collector: everything here is read when /metrics is scraped."""

    def describe(self):
        return []  # computed at scrape time: nothing to check at registration

    def collect(self):
        started = time.perf_counter()
        # A database that fails is a series (and a log line), not a 500: the other series still answer.
        try:
            families = list(_database_series())
        except DatabaseError as exc:
            logger.warning("metrics: the database did not answer (%s: %s)", exc.__class__.__name__, exc)
            families = []
        yield from families
        yield GaugeMetricFamily(
            "billing_metrics_database_up", "1 when this scrape's database reads succeeded.", value=1 if families else 0
        )
        yield from _queue_series()
        yield GaugeMetricFamily(
            "billing_metrics_collect_seconds",
            "How long this scrape's database and broker reads took.",
            value=time.perf_counter() - started,
        )
