"""The webhook endpoints under ASGI (billing/api/webhook_asgi.py): concurrent deliveries are stored in batches,
each answered only after its batch committed, with the same answers as the Django view; every other request
goes on to Django.

Driven in-process through the ASGI interface (the bench, bench/webhooks.py, drives it through daphne over
HTTP); the batcher's thread writes through its own database connection, hence transactional tests."""

import asyncio
import json
import tracemalloc

import pytest
from django.db import connection, transaction
from django.urls import resolve

from billing.api.webhook_asgi import IntakeBatcher, WebhookIntakeApp, _write
from billing.models import WebhookEvent
from tests.helpers.polling import wait_until
from tests.helpers.stripe_signing import make_event, sign
from tests.helpers.webhooks import ACCOUNT_SECRET, PLATFORM_SECRET, PLATFORM_URL, account_url, post_event

pytestmark = pytest.mark.django_db(transaction=True)


class RecordingBatcher(IntakeBatcher):
    """Records the size of each batch it writes (observation only: the writing is the real one)."""

    def __init__(self):
        super().__init__(write=self._record)
        self.sizes = []

    def _record(self, deliveries):
        self.sizes.append(len(deliveries))
        return _write(deliveries)


@pytest.fixture(autouse=True)
def _platform_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET


@pytest.fixture
def batcher():
    batcher = RecordingBatcher()
    yield batcher
    batcher.close()


@pytest.fixture
def app(batcher):
    from billing_project.asgi import django_asgi_app

    return WebhookIntakeApp(django_asgi_app, batcher)


async def call(app, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """One HTTP request through the ASGI interface: answers (status, headers, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    chunks = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        if chunks:
            return chunks.pop(0)
        await asyncio.Event().wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body_out


def signed(event: dict, secret: str, **kwargs) -> tuple[bytes, dict]:
    body = json.dumps(event).encode()
    return body, {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret, **kwargs)}


def customer_event(n: int, **kwargs) -> dict:
    return make_event("customer.updated", {"id": f"cus_{n}", "object": "customer"}, **kwargs)


def test_concurrent_deliveries_are_stored_once_each_in_shared_batches(app, batcher, connected):
    events = [customer_event(n) for n in range(30)]
    deliveries = [signed(e, ACCOUNT_SECRET) for e in events]
    deliveries += deliveries[:10]  # re-deliveries, racing their originals
    bad_body, bad_headers = signed(customer_event(99), "whsec_wrong")

    async def everything():
        posts = [call(app, "POST", account_url(connected), body, headers) for body, headers in deliveries]
        posts.append(call(app, "POST", account_url(connected), bad_body, bad_headers))
        return await asyncio.gather(*posts)

    answers = asyncio.run(everything())

    assert [status for status, _, _ in answers[:-1]] == [200] * 40
    acks = [json.loads(body) for _, _, body in answers[:-1]]
    for event in events[:10]:  # each re-delivered event: one of its two deliveries stored it
        flags = sorted(a["duplicate"] for a in acks if a["event_id"] == event["id"])
        assert flags == [False, True]
    assert answers[-1][0] == 400
    assert json.loads(answers[-1][2])["error"]["code"] == "webhook_signature_invalid"
    stored = WebhookEvent.objects.filter(account=connected)
    assert sorted(stored.values_list("stripe_event_id", flat=True)) == sorted(e["id"] for e in events)
    assert not stored.exclude(status__in=["processed", "ignored"]).exists()  # enqueued (eager here) after commit
    assert sum(batcher.sizes) == 41 and max(batcher.sizes) > 1  # concurrent deliveries shared batches


@pytest.mark.parametrize(
    "case",
    ["ok", "duplicate", "bad_signature", "stale", "not_json", "no_signature", "unknown_account", "not_an_id"],
)
def test_answers_are_the_same_as_the_django_views(app, connected, case):
    """The Django view (test client, WSGI, the schema) and the ASGI path call one service: same status, same
    body, for every outcome."""
    event = customer_event(1)
    secret, timestamp, path = ACCOUNT_SECRET, None, account_url(connected)
    if case == "bad_signature":
        secret = "whsec_not_this_one"
    elif case == "stale":
        timestamp = 1_600_000_000
    elif case == "unknown_account":
        path = PLATFORM_URL + "00000000-0000-4000-8000-000000000000/"
    elif case == "not_an_id":
        path = PLATFORM_URL + "not-an-account/"
    body, headers = signed(event, secret, timestamp=timestamp)
    if case == "not_json":
        body = b"{not json"
        headers["Stripe-Signature"] = sign(body, secret)
    if case == "no_signature":
        del headers["Stripe-Signature"]
    if case == "duplicate":
        post_event(path, event, secret)

    django_answer = _django_post(path, body, headers)
    WebhookEvent.objects.filter(stripe_event_id=event["id"]).exclude(status="processed").delete()
    if case == "ok":  # the ASGI path gets a fresh start
        WebhookEvent.objects.all().delete()
    status, response_headers, content = asyncio.run(call(app, "POST", path, body, headers))

    assert (status, json.loads(content)) == django_answer
    assert response_headers["content-type"] == "application/json"
    if status != 200:
        assert not WebhookEvent.objects.exists()


def _django_post(path, body, headers):
    from rest_framework.test import APIClient

    extra = {"HTTP_STRIPE_SIGNATURE": headers["Stripe-Signature"]} if "Stripe-Signature" in headers else {}
    response = APIClient().post(path, data=body, content_type="application/json", **extra)
    return response.status_code, response.json()


def test_other_methods_and_oversized_bodies_are_refused_with_a_reason(app, connected, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    status, headers, content = asyncio.run(call(app, "GET", account_url(connected)))
    assert status == 405 and headers["allow"] == "POST, OPTIONS"
    assert json.loads(content)["error"]["code"] == "method_not_allowed"

    body, sig = signed(
        make_event("customer.updated", {"id": "cus_big", "object": "customer", "x": "y" * 2000}), PLATFORM_SECRET
    )
    status, _, content = asyncio.run(call(app, "POST", PLATFORM_URL, body, sig))
    assert status == 413 and json.loads(content)["error"]["code"] == "webhook_body_too_large"
    assert not WebhookEvent.objects.exists()


def test_the_request_id_is_echoed_and_other_paths_go_to_django(app, connected):
    body, headers = signed(customer_event(5), ACCOUNT_SECRET)
    status, response_headers, _ = asyncio.run(
        call(app, "POST", account_url(connected), body, {**headers, "X-Request-ID": "stripe-retry-7"})
    )
    assert status == 200 and response_headers["x-request-id"] == "stripe-retry-7"

    status, _, content = asyncio.run(call(app, "GET", "/healthz"))
    health = json.loads(content)  # Django's view answered: its checks, not an intake answer
    assert health["database"] == {"ok": True}  # ok / failed only: nothing about what we run
    # The broker is the in-memory transport, or the REDIS_URL server of CI's second pass: up in both.
    assert (status, health["status"], health["broker"]["ok"]) == (200, "ok", True)
    status, _, _ = asyncio.run(call(app, "GET", "/api/v1/billing/stripe-connection/"))
    assert status == 401  # Django and DRF: no token


def test_intake_requests_are_in_the_request_histogram_by_route(app, connected):
    """Intake answers outside Django's middleware, so it records its own latency (core/request_metrics.py)."""
    from prometheus_client import REGISTRY

    route = resolve(account_url(connected)).route
    assert str(connected.id) not in route

    def count():
        labels = {"method": "POST", "route": route, "status": "2xx"}
        return REGISTRY.get_sample_value("billing_http_request_duration_seconds_count", labels) or 0

    before = count()
    for n in range(2):
        body, headers = signed(customer_event(20 + n), ACCOUNT_SECRET)
        assert asyncio.run(call(app, "POST", account_url(connected), body, headers))[0] == 200
    assert count() == before + 2


# --- real database failures: a lock that is not released in time, a connection dropped, a backlog -----------


def in_intake_thread(batcher, fn):
    """Runs fn in the batcher's own thread, on its own database connection (to read or tune that session)."""
    return batcher._executor.submit(fn).result()


class HeldWrites:
    """The test's connection holds the lock every write to the events table needs (SQLite: the database's
    write lock; PostgreSQL: a table lock that conflicts with INSERT), as a long transaction elsewhere would."""

    def __enter__(self):
        self._atomic = transaction.atomic()
        self._atomic.__enter__()  # SQLite: BEGIN IMMEDIATE (settings: transaction_mode)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE billing_webhookevent IN SHARE ROW EXCLUSIVE MODE")
        return self

    def release(self):
        if self._atomic is not None:
            self._atomic.__exit__(None, None, None)
            self._atomic = None

    def __exit__(self, *exc):
        self.release()


def _give_up_waiting_for_locks_after_100ms():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET lock_timeout = '100ms'")
        else:
            cursor.execute("PRAGMA busy_timeout = 100")


def test_a_database_that_cannot_write_answers_503_and_the_next_batch_stores(app, batcher, connected):
    """Nothing is acknowledged that is not stored: a batch that cannot get the database's write lock in time
    answers 503 to each delivery (Stripe delivers again); once the lock is free, the next batch writes. A real
    lock, held by another connection."""
    in_intake_thread(batcher, _give_up_waiting_for_locks_after_100ms)
    body, headers = signed(customer_event(7), ACCOUNT_SECRET)

    with HeldWrites():
        first = asyncio.run(call(app, "POST", account_url(connected), body, headers))
    assert first[0] == 503 and json.loads(first[2])["error"]["code"] == "webhook_store_failed"
    assert not WebhookEvent.objects.exists()

    second = asyncio.run(call(app, "POST", account_url(connected), body, headers))
    assert second[0] == 200 and json.loads(second[2])["duplicate"] is False
    assert WebhookEvent.objects.get().status == "processed"


def _backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_connection_dropped_between_batches_is_replaced_and_the_next_batch_stored(
    requires_postgres, app, batcher, connected
):
    """The intake thread keeps its connection across batches. PostgreSQL ends it (pg_terminate_backend, as a
    restart, a failover or an idle timeout would): the next batch finds it dead, opens a new one and stores;
    its delivery is answered 200, not 503."""
    first_body, headers = signed(customer_event(1), ACCOUNT_SECRET)
    assert asyncio.run(call(app, "POST", account_url(connected), first_body, headers))[0] == 200
    pid = in_intake_thread(batcher, _backend_pid)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone()[0]

    def gone():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            return cursor.fetchone()[0] == 0

    wait_until(gone, message="the intake thread's backend to end")

    second_body, headers = signed(customer_event(2), ACCOUNT_SECRET)
    status, _, content = asyncio.run(call(app, "POST", account_url(connected), second_body, headers))

    assert status == 200, content
    assert json.loads(content)["duplicate"] is False
    assert in_intake_thread(batcher, _backend_pid) != pid  # a new connection
    stored = WebhookEvent.objects.filter(account=connected)
    assert sorted(stored.values_list("stripe_event_id", flat=True)) == sorted(
        json.loads(b)["id"] for b in (first_body, second_body)
    )
    assert not stored.exclude(status="processed").exists()


def test_a_full_intake_queue_answers_503_at_once_and_memory_stays_flat(connected):
    """While the database is held (a real lock), deliveries wait in the queue up to WEBHOOK_INTAKE_QUEUE_MAX;
    the rest are answered 503 at once, without their bodies being kept: memory does not grow with the flood.
    Once the lock is free, every queued delivery is stored and answered 200."""
    from billing_project.asgi import django_asgi_app

    queue_max = 5
    batcher = RecordingBatcher()
    batcher.queue_max = queue_max
    app = WebhookIntakeApp(django_asgi_app, batcher)
    filler = "x" * 100_000  # 100 KB bodies: a kept one would show

    def delivery(n):
        event = make_event("customer.updated", {"id": f"cus_{n}", "object": "customer", "note": filler})
        return signed(event, ACCOUNT_SECRET)

    async def until(condition):
        deadline = asyncio.get_running_loop().time() + 20
        while not condition():  # polling the event loop's own progress, not timing it
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.01)

    def post(n):
        return asyncio.create_task(call(app, "POST", account_url(connected), *delivery(n)))

    async def flood():
        first = [post(0)]
        await until(lambda: batcher.sizes == [1])  # its batch is being written: it waits for the lock
        first += [post(n) for n in range(1, 6)]
        await until(lambda: batcher.waiting() == queue_max)  # five wait behind it: the queue is full
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        refused = await asyncio.gather(*(post(100 + n) for n in range(200)))
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        return first, refused, grown, batcher.waiting()

    loop = asyncio.new_event_loop()
    try:
        with HeldWrites():
            first, refused, grown, queued = loop.run_until_complete(flood())
        # The lock is free (released here: the test's connection belongs to this thread, outside the loop).
        accepted = loop.run_until_complete(asyncio.gather(*first))
    finally:
        pending = asyncio.all_tasks(loop)  # the batcher's runner: cancelled as asyncio.run would
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        batcher.close()

    assert {status for status, _, _ in refused} == {503}
    assert {json.loads(body)["error"]["code"] for _, _, body in refused} == {"webhook_intake_busy"}
    assert queued == queue_max  # never more than the bound waiting
    assert grown < 2_000_000, grown  # 200 bodies of 100 KB (20 MB) came and went
    assert [status for status, _, _ in accepted] == [200] * 6
    assert WebhookEvent.objects.filter(account=connected).count() == 6
