"""/metrics: its token, every series it promises (docs/observability.md), and that they move with the product's
data. Real database, real broker Redis for the queue depths, real requests through the middleware."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import AsyncClient
from django.urls import resolve
from django.utils import timezone
from kombu import Connection, Exchange, Queue
from prometheus_client.parser import text_string_to_metric_families

from billing.models import SyncRun, WebhookEvent
from contacts_import.models import ImportJob
from metering.models import Attribution
from tests.helpers.settings_process import start_settings

TOKEN = "test-metrics-token"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}

EVERY_SERIES = {
    "billing_http_request_duration_seconds",
    "billing_webhook_events",
    "billing_webhook_events_processed",
    "billing_webhook_oldest_pending_age_seconds",
    "billing_sync_runs",
    "billing_import_jobs",
    "billing_attributions",
    "billing_ledger_check_ok",
    "billing_ledger_check_problems",
    "billing_ledger_check_timestamp_seconds",
    "billing_celery_broker_up",
    "billing_celery_queue_depth",
    "billing_metrics_collect_seconds",
    "billing_metrics_database_up",
}


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.fixture
def redis_broker(settings, redis_url):
    settings.CELERY_BROKER_URL = redis_url
    return redis_url


def scrape(client) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape: (sample name, sorted labels) → value."""
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def families(client) -> set[str]:
    response = client.get("/metrics", **AUTH)
    return {family.name for family in text_string_to_metric_families(response.content.decode())}


def webhook_event(status, *, received_ago=0, relationship="platform", account=None):
    return WebhookEvent.objects.create(
        stripe_event_id=f"evt_{uuid.uuid4().hex}",
        relationship=relationship,
        account=account,
        type="customer.updated",
        created=0,
        payload={},
        status=status,
        received_at=timezone.now() - timedelta(seconds=received_ago),
    )


# --- the token ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_a_token_configured_the_endpoint_is_off(client, settings):
    settings.METRICS_TOKEN = None
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.django_db
def test_a_missing_token_is_401_and_a_wrong_one_403_saying_nothing(client, token):
    missing = client.get("/metrics")
    assert (missing.status_code, missing["WWW-Authenticate"], missing.content) == (401, "Bearer", b"")
    for header in ("Basic dXNlcjpwYXNz", "Bearer", f"Token {TOKEN}"):
        assert client.get("/metrics", HTTP_AUTHORIZATION=header).status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    assert (wrong.status_code, wrong.content) == (403, b"")
    assert b"billing_" not in missing.content + wrong.content


def test_the_development_token_is_refused_in_production():
    from tests.helpers.settings_process import PRODUCTION_SECRETS

    result = start_settings(**PRODUCTION_SECRETS, METRICS_TOKEN="dev-metrics-token")
    assert result.returncode != 0 and "METRICS_TOKEN holds its development default" in result.stderr


# --- the series -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_series_is_exposed(client, token, redis_broker):
    client.get("/healthz/live")  # one request, so the histogram has a sample
    call_command("metering_ledger_check")  # a stored check result
    assert EVERY_SERIES <= families(client)


@pytest.mark.django_db
def test_the_database_series_move_with_the_data(client, token, account):
    before = scrape(client)
    webhook_event("pending", received_ago=90)
    webhook_event("dead")
    webhook_event("dead", relationship="account", account=account)
    webhook_event("processed")
    webhook_event("processed")
    SyncRun.objects.create(account=account, status=SyncRun.Status.FAILED)
    ImportJob.objects.create(account=account, type="customer")
    Attribution.objects.create(account=account, key="h1:s1", week_key="2026W49", units=3, created_at=timezone.now())
    after = scrape(client)

    def moved(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before[key]

    assert moved("billing_webhook_events", status="pending", relationship="platform") == 1
    assert moved("billing_webhook_events", status="dead", relationship="platform") == 1
    assert moved("billing_webhook_events", status="dead", relationship="account") == 1
    assert moved("billing_webhook_events_processed_total") == 2
    assert 90 <= after[("billing_webhook_oldest_pending_age_seconds", ())] < 3600
    assert moved("billing_sync_runs", state="failed") == 1
    assert moved("billing_import_jobs", status="pending") == 1
    assert moved("billing_attributions_total") == 1


@pytest.mark.django_db
def test_a_ledger_check_run_is_recorded_with_its_result(client, token, account):
    call_command("metering_ledger_check")
    call_command("check_balances")
    samples = scrape(client)
    for check in ("metering_ledger", "onebalance_ledger"):
        assert samples[("billing_ledger_check_ok", (("check", check),))] == 1
        assert samples[("billing_ledger_check_problems", (("check", check),))] == 0
        ran_at = samples[("billing_ledger_check_timestamp_seconds", (("check", check),))]
        assert abs(ran_at - timezone.now().timestamp()) < 3600

    from metering.models import ExtrasBalance

    ExtrasBalance.objects.create(account=account, cached_balance=5)  # no entry adds up to it
    with pytest.raises(SystemExit):
        call_command("metering_ledger_check")
    samples = scrape(client)
    assert samples[("billing_ledger_check_ok", (("check", "metering_ledger"),))] == 0
    assert samples[("billing_ledger_check_problems", (("check", "metering_ledger"),))] == 1


@pytest.mark.django_db
def test_queue_depth_counts_the_messages_waiting_in_the_broker(client, token, redis_broker):
    queue = Queue("imports", Exchange("imports"), routing_key="imports")
    before = scrape(client)[("billing_celery_queue_depth", (("queue", "imports"),))]
    with Connection(redis_broker) as conn:
        producer = conn.Producer()
        try:
            for _ in range(3):
                producer.publish({"probe": True}, exchange=queue.exchange, routing_key="imports", declare=[queue])
            samples = scrape(client)
        finally:
            queue(conn.default_channel).purge()
    assert samples[("billing_celery_broker_up", ())] == 1
    assert samples[("billing_celery_queue_depth", (("queue", "imports"),))] == before + 3


@pytest.mark.django_db
def test_a_broker_that_does_not_answer_is_a_series_not_an_error(client, token, settings, dead_redis_url):
    settings.CELERY_BROKER_URL = dead_redis_url
    samples = scrape(client)
    assert samples[("billing_celery_broker_up", ())] == 0
    assert not any(name == "billing_celery_queue_depth" for name, _ in samples)


@pytest.mark.django_db
def test_a_failing_database_is_a_series_not_a_500(client, token, redis_broker):
    with connection.cursor() as cursor:  # a real failure: the table is gone (rolled back with the test)
        cursor.execute("ALTER TABLE billing_syncrun RENAME TO billing_syncrun_gone")
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert "billing_metrics_database_up 0.0" in response.content.decode()
    assert "billing_webhook_events" not in names and "billing_sync_runs" not in names
    assert {"billing_celery_queue_depth", "billing_http_request_duration_seconds"} <= names


# --- request latency --------------------------------------------------------------------------------------------


def latency_count(samples, method, route, status) -> float:
    labels = tuple(sorted({"method": method, "route": route, "status": status}.items()))
    return samples.get(("billing_http_request_duration_seconds_count", labels), 0)


@pytest.mark.django_db
def test_request_latency_is_labelled_by_route_pattern_not_path(client, token):
    route = resolve("/api/v1/billing/customers/cus_a/").route  # the router's pattern, the same for any customer
    assert "cus_a" not in route
    before = scrape(client)
    for customer in ("cus_a", "cus_b", "cus_c"):
        assert client.get(f"/api/v1/billing/customers/{customer}/").status_code == 401
    client.get("/no/such/page/")
    after = scrape(client)
    assert latency_count(after, "GET", route, "4xx") - latency_count(before, "GET", route, "4xx") == 3
    assert not any("cus_a" in str(labels) for _, labels in after)
    assert latency_count(after, "GET", "<unmatched>", "4xx") - latency_count(before, "GET", "<unmatched>", "4xx") == 1


@pytest.mark.django_db(transaction=True)
def test_request_latency_is_recorded_on_the_async_stack_too(client, token):
    before = latency_count(scrape(client), "GET", "healthz/live", "2xx")
    response = asyncio.run(AsyncClient().get("/healthz/live"))
    assert response.status_code == 200
    assert latency_count(scrape(client), "GET", "healthz/live", "2xx") == before + 1


WEB_PROCESS = """
from django.test import Client
for _ in range(3):
    assert Client().get("/healthz/live").status_code == 200
"""

SCRAPER = (
    WEB_PROCESS
    + """
from prometheus_client import generate_latest
from observability.metrics import process_registry
print(generate_latest(process_registry()).decode())
"""
)


def test_several_processes_share_their_histogram_in_multiprocess_mode(tmp_path):
    env = {"BILLING_DEV_DEFAULTS": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "BILLING_VAR_DIR": str(tmp_path)}
    web = start_settings(WEB_PROCESS, **env)  # a web process that has exited
    assert web.returncode == 0, web.stderr
    scraper = start_settings(SCRAPER, **env)  # another one, which serves requests too and reads both
    assert scraper.returncode == 0, scraper.stderr
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraper.stdout)
        for sample in family.samples
    }
    assert latency_count(samples, "GET", "healthz/live", "2xx") == 6


@pytest.mark.django_db
def test_the_processed_count_stays_exact_as_its_mark_moves(monkeypatch):
    """No margin, so that every step moves the mark: the count must stay what a COUNT(*) would say."""
    from observability import collector, counts

    monkeypatch.setattr(counts, "MARGIN", 0)
    processed = counts.IncrementalCount(
        lambda: WebhookEvent.objects.filter(status="processed").order_by(), collector._webhook_settled_below
    )

    def exact():
        return WebhookEvent.objects.filter(status="processed").count()

    settled = [webhook_event("processed") for _ in range(5)]
    assert processed.value() == exact() == 5  # counted in full once, below the mark
    webhook_event("dead")  # a dead letter does not hold the mark back
    webhook_event("processed")
    waiting = webhook_event("pending")
    webhook_event("processed")
    assert processed.value() == exact() == 7
    WebhookEvent.objects.filter(pk=waiting.pk).update(status="processed")  # the mark passes it
    assert processed.value() == exact() == 8
    WebhookEvent.objects.filter(pk=settled[0].pk).update(status="pending")  # replayed: below the mark
    assert processed.value() == exact() == 7
