"""The real path: a delivery over HTTP, a Celery worker consuming from Redis, retries that wait their countdown."""

import pytest
from django.db import connections

from billing.models import WebhookEvent
from billing.webhooks import doorbell
from tests.helpers.celery_worker import celery_worker, real_broker
from tests.helpers.handlers import RecordingHandler, registered
from tests.helpers.polling import wait_until
from tests.helpers.stripe_signing import make_event
from tests.helpers.webhooks import ACCOUNT_SECRET, account_url, connect, post_event

pytestmark = pytest.mark.django_db(transaction=True)
TYPE = "zz_test.worker.updated"


def test_a_failing_handler_is_retried_by_the_worker_after_its_backoff(account, redis_url, settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1  # retries after 1 s, then 2 s
    connect(account)
    event = make_event(TYPE, {"id": "obj_w1", "object": "thing"})

    with registered("account", TYPE, RecordingHandler(failures=2)) as handler, celery_worker(redis_url):
        assert post_event(account_url(account), event, ACCOUNT_SECRET).status_code == 200
        row = wait_until(
            lambda: WebhookEvent.objects.filter(status=WebhookEvent.Status.PROCESSED).first(),
            message="the event to be processed",
        )
    connections.close_all()

    assert len(handler.calls) == 3 and handler.successes == [event["id"]]
    assert row.attempts == 3 and row.last_error == ""


def test_deliveries_ring_one_doorbell_and_the_worker_that_answers_takes_them_all(account, redis_url, settings):
    """Intake publishes a message only when none is outstanding (billing/webhooks/doorbell.py): three
    deliveries while no worker runs make one message, and the worker answering it processes all three. Once
    it has answered, the next delivery rings again."""
    import redis

    settings.WEBHOOK_BATCH_LINGER_MS = 0
    connect(account)
    broker = redis.Redis.from_url(redis_url)
    events = [make_event(TYPE, {"id": f"obj_d{n}", "object": "thing"}) for n in range(4)]

    with registered("account", TYPE, RecordingHandler()) as handler:
        with real_broker(redis_url):
            for event in events[:3]:
                assert post_event(account_url(account), event, ACCOUNT_SECRET).status_code == 200
            assert broker.llen("webhooks") == 1  # one message for three deliveries, on the webhooks queue
        with celery_worker(redis_url):
            wait_until(lambda: len(handler.calls) == 3, message="the three events to be processed")
            assert post_event(account_url(account), events[3], ACCOUNT_SECRET).status_code == 200
            wait_until(lambda: len(handler.calls) == 4, message="the next delivery to ring and be processed")
    connections.close_all()

    assert sorted(handler.calls) == sorted(e["id"] for e in events)
    assert not broker.exists(doorbell.KEY)


def test_a_doorbell_whose_message_is_lost_rings_again_after_its_ttl(account, redis_url, settings):
    settings.WEBHOOK_DOORBELL_TTL_MS = 200
    with real_broker(redis_url):
        assert doorbell.doorbell_ring() is True
        assert doorbell.doorbell_ring() is False  # outstanding
        wait_until(lambda: doorbell.doorbell_ring(), message="the doorbell to expire")
        doorbell.doorbell_answer()
        assert doorbell.doorbell_ring() is True
        doorbell.doorbell_answer()
