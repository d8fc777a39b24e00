"""The sync when messages are lost (SPEC §2; issue 10 item 6): a broker down when a sync starts leaves the run
waiting, not stuck, and the beat sweeper queues its resources once the broker is back; stalled runs are failed by
beat, not only by the next start; a duplicate message never runs a resource twice at once; a long resource hands
over to a new message of its own between pages."""

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from billing.models import Customer, StripeConnection, SyncResource, SyncRun
from billing.stripe import sync
from billing.stripe.sync_sources import RESOURCES
from tests.billing.stripe_seed import Stripe, seed_account
from tests.billing.test_sync_failures import (  # noqa: F401
    SYNC_URL,
    connect,
    customers_resource,
    list_calls,
    stalled_run,
)
from tests.helpers.celery_worker import celery_worker, real_broker
from tests.helpers.notifications import record_notifications
from tests.helpers.polling import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FIRST_WAVE = sorted(name for name, spec in RESOURCES.items() if spec.after is None)


@pytest.fixture
def stripe(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


def test_a_sync_started_while_the_broker_is_down_waits_then_completes_once_the_sweeper_requeues_it(
    stripe, api, account, redis_url, dead_redis_url, settings
):
    seed_account(stripe, customers=3, subscriptions=0, payments=0, refunds=0, payouts=0)
    assert connect(api).status_code == 201
    Customer.objects.filter(account=account).delete()

    with real_broker(dead_redis_url):
        response = api.post(SYNC_URL)

    # Accepted: the run is committed and will go on; no 500, nothing half-sent.
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=response.json()["id"])
    assert run.status == "running"
    waiting = run.resources.filter(queued_at__isnull=False)
    assert sorted(waiting.values_list("resource", flat=True)) == FIRST_WAVE
    assert set(run.resources.values_list("status", "attempts")) == {("pending", 0)}
    # Beat's sweep leaves them alone while their messages may still be on their way.
    assert sync.sync_runs_sweep() == {"failed": 0, "requeued": 0}

    settings.BILLING_SYNC_REQUEUE_SECONDS = 0  # the requeue delay has passed
    with celery_worker(redis_url):
        assert sync.sync_runs_sweep() == {"failed": 0, "requeued": len(FIRST_WAVE)}
        wait_until(lambda: SyncRun.objects.get(pk=run.pk).status == "completed", message="the run to complete")
    connections.close_all()

    assert Customer.objects.filter(account=account, deleted=False).count() == 3
    assert StripeConnection.objects.get(account=account).status == "ready"
    assert set(run.resources.values_list("status", flat=True)) == {"done"}


def test_a_sync_whose_broker_never_returns_is_failed_by_beat_not_left_running(
    stripe, api, account, dead_redis_url, settings, monkeypatch
):
    seed_account(stripe, customers=1, subscriptions=0, payments=0, refunds=0, payouts=0)
    assert connect(api).status_code == 201
    with real_broker(dead_redis_url):
        run_id = api.post(SYNC_URL).json()["id"]
        sent = record_notifications(monkeypatch)
        long_ago = timezone.now() - timedelta(minutes=settings.BILLING_SYNC_STALE_MINUTES + 1)
        SyncRun.objects.filter(pk=run_id).update(started_at=long_ago)
        SyncResource.objects.filter(run_id=run_id).update(updated_at=long_ago, queued_at=long_ago)

        result = sync.sync_runs_sweep()  # the failed run's resources are no longer queued

    assert result == {"failed": 1, "requeued": 0}
    run = SyncRun.objects.get(pk=run_id)
    assert run.status == "failed" and "no progress for 30 minutes" in run.reason
    assert not run.resources.filter(status__in=["pending", "running"]).exists()
    assert StripeConnection.objects.get(account=account).status == "failed"
    assert [d["message"] for d in sent.of("billing_data_fetch_failed")] == [run.reason]
    assert api.post(SYNC_URL).status_code == 202  # the account is not blocked


def test_beat_fails_a_stalled_run_without_waiting_for_a_new_start(stripe, api, account, monkeypatch):
    seed_account(stripe, customers=1, subscriptions=0, payments=0, refunds=0, payouts=0)
    assert connect(api).status_code == 201
    sent = record_notifications(monkeypatch)
    stalled = stalled_run(account)

    assert sync.sync_runs_sweep() == {"failed": 1, "requeued": 0}

    stalled.refresh_from_db()
    assert stalled.status == "failed" and "no progress for 30 minutes" in stalled.reason
    assert sent.of("billing_data_fetch_failed") == [{"message": stalled.reason, "type": "error"}]
    assert sync.sync_runs_sweep() == {"failed": 0, "requeued": 0}  # announced once


def test_beat_leaves_a_run_that_progresses_alone(stripe, api, account):
    seed_account(stripe, customers=1, subscriptions=0, payments=0, refunds=0, payouts=0)
    assert connect(api).status_code == 201
    run = SyncRun.objects.create(account=account)
    run.resources.create(resource="customers", status="running")
    SyncRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=2))

    assert sync.sync_runs_sweep() == {"failed": 0, "requeued": 0}
    assert SyncRun.objects.get(pk=run.pk).status == "running"


def test_a_duplicate_message_never_runs_a_resource_that_is_already_running(stripe, api, account):
    seed_account(stripe, customers=1, subscriptions=0, payments=0, refunds=0, payouts=0)
    assert connect(api).status_code == 201
    run = SyncRun.objects.create(account=account)
    resource = run.resources.create(
        resource="customers", status="running", attempts=1, pass_id=run.pk, pass_started_at=timezone.now()
    )

    sync.sync_resource_run(resource_id=resource.pk)  # its task is still at work

    resource.refresh_from_db()
    assert (resource.status, resource.attempts, resource.pages) == ("running", 1, 0)

    # A redelivery after its worker died (no progress for the stale delay) takes it over.
    SyncResource.objects.filter(pk=resource.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    sync.sync_resource_run(resource_id=resource.pk)
    resource.refresh_from_db()
    assert (resource.status, resource.attempts) == ("done", 2)


def test_a_long_resource_hands_over_to_a_new_message_between_pages_and_loses_nothing(
    stripe,
    api,
    account,
    settings,
    list_calls,  # noqa: F811 - the fixture imported above
):
    seed_account(stripe, customers=250, subscriptions=0, payments=0, refunds=0, payouts=0)
    settings.BILLING_SYNC_SLICE_SECONDS = 0  # every page is a slice

    assert connect(api).status_code == 201

    run = SyncRun.objects.get(account=account)
    assert run.status == "completed"
    customers = customers_resource(run.pk)
    # One message per page, and one that found the list at its end.
    assert (customers.attempts, customers.pages, customers.synced) == (4, 3, 250)
    afters = [after for path, after in list_calls if path == "/v1/customers"]
    assert len(afters) == 3 and afters[0] is None and len(set(afters)) == 3  # from the cursor: no page twice
    assert Customer.objects.filter(account=account, deleted=False).count() == 250
