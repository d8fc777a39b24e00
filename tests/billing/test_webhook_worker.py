"""The real path: a delivery over HTTP, a Celery worker consuming from Redis, retries that wait their countdown."""

import pytest
from django.db import connections

from billing.models import WebhookEvent
from tests.helpers.celery_worker import celery_worker
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
