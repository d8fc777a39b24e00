"""The Stripe webhook endpoints under ASGI, on a path of their own (SPEC §3; docs/webhooks.md "Intake").

Stripe waits for our answer and retries what is slow, so intake is built for a thousand deliveries a second on
two cores. Django's request cycle (middleware, a thread hop per request, a database connection per request
under ASGI) costs more than the whole job, so these two URLs are answered here, in the event loop, and every
other request goes on to Django untouched:

- the body is read and handed to one `IntakeBatcher` per process, which gives all deliveries that arrived
  while the previous batch was being written to `webhook_receive_batch` at once, in one dedicated thread with
  its own long-lived database connection: the insert, the commit and the broker message are shared by the
  batch (group commit). A lone delivery is written at once: batching adds no wait, only sharing.
- the answer goes out after the batch's commit: a 2xx always means the event is stored.
- the queue in front of that thread is bounded (WEBHOOK_INTAKE_QUEUE_MAX deliveries): when the database falls
  behind, a delivery that finds it full is answered 503 at once (Stripe delivers it again) instead of waiting in
  memory that grows with the backlog.

The same URLs are also routed by Django to billing/api/webhooks.py (the test client, WSGI, the OpenAPI
schema); both call the same service and answer the same bodies.
"""

import asyncio
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.urls import resolve, reverse

from billing.webhooks.intake import Delivery, Receipt, connection_lost, webhook_receive_batch
from core import errors, request_metrics
from core.api.exception_handler import error_body
from core.logcontext import request_id_from, request_id_var

logger = logging.getLogger(__name__)

MAX_BATCH = 200


class IntakeBusy(errors.AppError):
    """The intake queue is full: the database is behind. Stripe delivers again later."""

    status = 503
    code = "webhook_intake_busy"
    default_message = "Webhook intake is at capacity; Stripe will deliver this event again."


class IntakeBatcher:
    """Collects deliveries from concurrent requests and stores them in batches, one batch at a time, in one
    thread (so one database connection, reused across batches). At most `queue_max` deliveries wait (default
    WEBHOOK_INTAKE_QUEUE_MAX); past that, `submit` answers IntakeBusy at once."""

    def __init__(self, max_batch: int = MAX_BATCH, write=None, queue_max: int | None = None):
        self.max_batch = max_batch
        self.queue_max = settings.WEBHOOK_INTAKE_QUEUE_MAX if queue_max is None else queue_max
        self._write = write or _write  # (deliveries) -> results; runs in the batcher's thread
        self._queue: asyncio.Queue | None = None
        self._loop = None
        self._runner: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-intake")

    def full(self) -> bool:
        """No room for another delivery: the caller may answer 503 without reading the body."""
        return self._queue is not None and self._loop is asyncio.get_running_loop() and self._queue.full()

    async def submit(self, delivery: Delivery) -> Receipt | errors.AppError:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a new event loop (tests): start the runner on this one
            self._loop, self._queue = loop, asyncio.Queue(maxsize=self.queue_max)
            self._runner = loop.create_task(self._run())
        future = loop.create_future()
        try:
            self._queue.put_nowait((delivery, future))
        except asyncio.QueueFull:
            return IntakeBusy()
        return await future

    def waiting(self) -> int:
        """Deliveries queued and not yet taken into a batch."""
        return self._queue.qsize() if self._queue is not None else 0

    def close(self) -> None:
        """Closes the thread's database connection and stops the thread (tests; a server just exits)."""
        self._executor.submit(connections.close_all).result()
        self._executor.shutdown()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await loop.run_in_executor(self._executor, self._write, [d for d, _ in batch])
            except Exception as exc:  # noqa: BLE001 - the database failed: every caller gets a 503
                logger.exception("Webhook intake batch of %s failed", len(batch))
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # the client may have gone away
                    future.set_result(result)


def _write(deliveries: list[Delivery]) -> list:
    # This thread keeps its database connection from batch to batch (opening one per batch would cost more
    # than the batch), whatever CONN_MAX_AGE says for requests. A kept connection can die between batches (the
    # server restarted, a failover, an idle timeout, pg_terminate_backend): the batch that finds it dead is
    # written once more on a new connection rather than answered 503. Safe to repeat: nothing of a failed
    # attempt was committed or sent (the wake-up runs after commit), and the insert skips what is stored.
    try:
        return webhook_receive_batch(deliveries=deliveries)
    except DatabaseError as exc:
        connection.close()
        if not connection_lost(exc):
            raise  # the database itself failed (e.g. a lock timeout): a second try would wait as long again
        logger.warning("Webhook intake: the database connection was lost; writing the batch on a new one")
    try:
        return webhook_receive_batch(deliveries=deliveries)
    except DatabaseError:
        connection.close()  # the next batch opens a new one
        raise


class WebhookIntakeApp:
    """ASGI: the webhook POSTs are answered here, anything else goes to `app` (Django)."""

    def __init__(self, app, batcher: IntakeBatcher | None = None):
        self.app = app
        self.batcher = batcher or IntakeBatcher()
        self.platform_path = reverse("billing:webhook-platform")
        # The account route's own pattern, by its name: a placeholder id reversed, then cut out again.
        placeholder = "ACCOUNT-ID"
        prefix, suffix = reverse("billing:webhook-account", kwargs={"account_id": placeholder}).split(placeholder)
        self._account_path = re.compile(f"^{re.escape(prefix)}([^/]+){re.escape(suffix)}$")
        # Django's route patterns of the two URLs: the labels of the request histogram (core/request_metrics.py),
        # which these requests never reach through Django's middleware.
        self._platform_route = resolve(self.platform_path).route
        self._account_route = resolve(f"{prefix}{placeholder}{suffix}").route

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        match = None if path == self.platform_path else self._account_path.match(path)
        if path != self.platform_path and match is None:
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        headers = _headers(scope)
        request_id = request_id_from(headers.get("x-request-id"))
        token = request_id_var.set(request_id)
        try:
            status, body, extra = await self._answer(scope, receive, headers, match)
        finally:
            request_id_var.reset(token)
        content = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    (b"x-request-id", request_id.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
        route = self._account_route if match else self._platform_route
        request_metrics.observe(scope["method"], route, status, time.perf_counter() - started)

    async def _answer(self, scope, receive, headers, match):
        if scope["method"] != "POST":
            message = f'Method "{scope["method"]}" not allowed.'
            return 405, error_body("method_not_allowed", message), [(b"allow", b"POST, OPTIONS")]
        if self.batcher.full():  # answered before the body is read: a backlog must not grow memory
            return 503, error_body(IntakeBusy.code, IntakeBusy.default_message), []
        payload = await _read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if payload is None:
            message = f"Webhook body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            return 413, error_body("webhook_body_too_large", message), []
        delivery = Delivery(
            payload=payload,
            signature=headers.get("stripe-signature"),
            account_id=match.group(1) if match else None,
        )
        result = await self.batcher.submit(delivery)
        if isinstance(result, errors.AppError):
            return result.status, error_body(result.code, result.message, result.details), []
        if isinstance(result, Exception):
            message = "The event could not be stored; Stripe will deliver it again."
            return 503, error_body("webhook_store_failed", message), []
        return 200, result.reply(), []


def _headers(scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}


async def _read_body(receive, limit: int) -> bytes | None:
    """The request body, or None past `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)
