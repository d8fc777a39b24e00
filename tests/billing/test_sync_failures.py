"""Stripe trouble during a sync: 429s retried, a revoked key failing the run at once, and a run killed half-way
(a 500 burst that outlasts the retries, or a bug) resumed from its cursor by the next run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.notifications import user_group
from billing.models import Customer, StripeConnection, SyncResource, SyncRun
from billing.services.connection import connection_resync
from billing.stripe import client as stripe_client
from billing.stripe import sync
from billing.stripe.sync import DATA_FETCHED_MESSAGE
from tests.billing.stripe_seed import Stripe, seed_account
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.notifications import record_notifications

pytestmark = pytest.mark.django_db(transaction=True)

CONNECTION_URL = "/api/v1/billing/stripe-connection/"
SYNC_URL = "/api/v1/billing/sync/"


@pytest.fixture
def stripe(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


class ListCalls(list):
    def __init__(self):
        super().__init__()
        self.hooks = []

    def before(self, hook) -> None:
        self.hooks.append(hook)


@pytest.fixture
def list_calls(monkeypatch):
    """Every list page our client asks for: (path, starting_after). `before` runs first (to arm a fault)."""
    calls = ListCalls()
    original = stripe_client.StripeClient.list_page
    hooks = calls.hooks

    def recording(self, path, *, limit=100, starting_after=None, **params):
        calls.append((path, starting_after))
        for hook in hooks:
            hook(path, starting_after)
        return original(self, path, limit=limit, starting_after=starting_after, **params)

    monkeypatch.setattr(stripe_client.StripeClient, "list_page", recording)
    return calls


def connect(api):
    return api.post(CONNECTION_URL, {"secret_key": TEST_SECRET_KEY}, format="json")


def customers_resource(run_id) -> SyncResource:
    return SyncResource.objects.get(run_id=run_id, resource="customers")


def test_rate_limited_pages_are_retried_and_the_sync_completes(stripe, stripe_server, api, account, monkeypatch):
    seed_account(stripe, customers=150)
    sent = record_notifications(monkeypatch)
    delays = []
    real_backoff = sync.backoff_delay

    def recording_backoff(retries, **kwargs):
        delays.append((retries, kwargs["retry_after"]))
        return real_backoff(retries, **kwargs)

    monkeypatch.setattr(sync, "backoff_delay", recording_backoff)
    stripe_server.fail_next("/v1/customers", 429, count=2, method="GET", retry_after=7)

    assert connect(api).status_code == 201

    run = SyncRun.objects.get(account=account)
    assert run.status == "completed"
    assert customers_resource(run.pk).attempts == 3
    assert delays == [(0, 7.0), (1, 7.0)]  # Stripe's Retry-After reached the backoff
    assert Customer.objects.filter(account=account).count() == 150
    assert sent.of("billing_data_fetched") == [{"message": DATA_FETCHED_MESSAGE, "type": "success"}]
    assert sent.of("billing_data_fetch_failed") == []


def test_a_revoked_key_fails_the_run_at_once(stripe, stripe_server, api, account, owner, monkeypatch):
    seed_account(stripe, customers=5, subscriptions=1, payments=1, refunds=0, payouts=0)
    assert connect(api).status_code == 201
    sent = record_notifications(monkeypatch)
    stripe_server.revoke_key(TEST_SECRET_KEY)

    response = api.post(SYNC_URL)

    assert response.status_code == 202
    run = SyncRun.objects.get(pk=response.json()["id"])
    assert run.status == "failed"
    assert "refused the stored credentials" in run.reason and "Reconnect Stripe" in run.reason
    assert customers_resource(run.pk).attempts == 1  # not retried
    connection = StripeConnection.objects.get(account=account)
    assert (connection.status, connection.status_reason) == ("failed", run.reason)
    assert connection.initialized is True  # the first sync did complete
    failed = [(group, data) for group, event, data in sent.sent if event == "billing_data_fetch_failed"]
    assert failed == [(user_group(owner.pk, account.id), {"message": run.reason, "type": "error"})]
    assert sent.of("billing_data_fetched") == []
    body = api.get(CONNECTION_URL).json()
    assert (body["status"], body["status_reason"]) == ("failed", run.reason)


def test_a_500_burst_outlasting_the_retries_fails_the_run_and_the_next_run_resumes_from_the_cursor(
    stripe, stripe_server, api, account, monkeypatch, settings, list_calls
):
    settings.BILLING_SYNC_MAX_RETRIES = 2
    seed_account(stripe, customers=250)
    sent = record_notifications(monkeypatch)
    armed = []

    def burst_on_page_two(path, starting_after):
        if path == "/v1/customers" and starting_after and not armed:
            armed.append(starting_after)
            stripe_server.fail_next("/v1/customers", 500, count=3, method="GET")

    list_calls.before(burst_on_page_two)

    assert connect(api).status_code == 201

    first = SyncRun.objects.get(account=account)
    assert first.status == "failed" and "failed after 3 attempts" in first.reason
    stopped = customers_resource(first.pk)
    assert (stopped.status, stopped.pages, stopped.synced, stopped.attempts) == ("failed", 1, 100, 3)
    assert stopped.cursor == {"source": 0, "after": armed[0]}
    assert Customer.objects.filter(account=account).count() == 100
    assert [d["message"] for d in sent.of("billing_data_fetch_failed")] == [first.reason]
    first_page = set(Customer.objects.filter(account=account).values_list("stripe_id", flat=True))

    list_calls.clear()
    response = api.post(SYNC_URL)

    assert response.status_code == 202
    second = SyncRun.objects.get(pk=response.json()["id"])
    assert second.status == "completed"
    customer_pages = [after for path, after in list_calls if path == "/v1/customers"]
    assert customer_pages[0] == armed[0]  # went on from the cursor, not from the start
    assert None not in customer_pages
    resumed = customers_resource(second.pk)
    assert (resumed.synced, resumed.pages, resumed.pass_id) == (250, 3, first.pk)
    assert Customer.objects.filter(account=account).count() == 250
    # The first page was not listed again, yet a pass that began in the failed run is one pass: nothing deleted.
    assert not Customer.objects.filter(account=account, deleted=True).exists()
    assert first_page <= set(Customer.objects.filter(account=account).values_list("stripe_id", flat=True))
    assert len(sent.of("billing_data_fetched")) == 1


def test_a_bug_after_page_two_is_not_retried_and_the_next_run_resumes(
    stripe, api, account, owner, monkeypatch, list_calls
):
    seed_account(stripe, customers=250, subscriptions=1, payments=1, refunds=0, payouts=0)
    sent = record_notifications(monkeypatch)
    real_upsert = sync.mirror.upsert_objects
    customer_pages = []

    def broken_on_page_three(account, object_name, objects, **kwargs):
        if object_name == "customer":
            customer_pages.append(objects[-1]["id"])
            if len(customer_pages) == 3:
                raise RuntimeError("injected")
        return real_upsert(account, object_name, objects, **kwargs)

    monkeypatch.setattr(sync.mirror, "upsert_objects", broken_on_page_three)
    with pytest.raises(RuntimeError, match="injected"):
        connect(api)

    first = SyncRun.objects.get(account=account)
    assert first.status == "failed" and "internal error (RuntimeError)" in first.reason
    stopped = customers_resource(first.pk)
    assert (stopped.attempts, stopped.pages, stopped.synced) == (1, 2, 200)
    assert stopped.cursor == {"source": 0, "after": customer_pages[1]}  # page three rolled back with its cursor
    assert Customer.objects.filter(account=account).count() == 200
    assert len(sent.of("billing_data_fetch_failed")) == 1

    monkeypatch.setattr(sync.mirror, "upsert_objects", real_upsert)
    list_calls.clear()
    second = connection_resync(account=account, user=owner)

    second.refresh_from_db()
    assert second.status == "completed"
    assert [after for path, after in list_calls if path == "/v1/customers"] == [customer_pages[1]]
    assert Customer.objects.filter(account=account, deleted=False).count() == 250
    assert StripeConnection.objects.get(account=account).status == "ready"


def test_a_failed_run_is_not_resumed_by_a_connection_to_another_stripe_account(
    stripe, api, account, owner, stripe_api_base, list_calls
):
    seed_account(stripe, customers=3, subscriptions=0, payments=0, refunds=0, payouts=0)
    connect(api)
    first = SyncRun.objects.get(account=account)
    SyncRun.objects.filter(pk=first.pk).update(status="failed")
    SyncResource.objects.filter(run=first, resource="customers").update(status="failed", cursor={"after": "cus_x"})
    other = Stripe(stripe_api_base, stripe_account="acct_1Other")
    seed_account(other, customers=2, subscriptions=0, payments=0, refunds=0, payouts=0)

    response = api.post(
        CONNECTION_URL, {"access_token": TEST_SECRET_KEY, "stripe_user_id": "acct_1Other"}, format="json"
    )

    assert response.status_code == 200
    latest = SyncRun.objects.filter(account=account).order_by("-id").first()
    assert latest.status == "completed"
    assert customers_resource(latest.pk).pass_id == latest.pk
    assert [after for path, after in list_calls if path == "/v1/customers"][-1] is None
    other_ids = {c["id"] for c in other.list_all("/v1/customers")}
    assert other_ids <= set(Customer.objects.filter(account=account, deleted=False).values_list("stripe_id", flat=True))


def stalled_run(account) -> SyncRun:
    """A run whose worker died two hours ago: running, its customers resource running, no progress since."""
    stalled = SyncRun.objects.create(account=account)
    stalled.resources.create(resource="customers", status="running")
    long_ago = timezone.now() - timedelta(hours=2)
    SyncRun.objects.filter(pk=stalled.pk).update(started_at=long_ago)
    SyncResource.objects.filter(run=stalled).update(updated_at=long_ago)
    return stalled


def test_a_run_stalled_for_too_long_no_longer_blocks_a_new_one(stripe, api, account, monkeypatch):
    seed_account(stripe, customers=2, subscriptions=0, payments=0, refunds=0, payouts=0)
    assert connect(api).status_code == 201
    sent = record_notifications(monkeypatch)
    stalled = stalled_run(account)

    response = api.post(SYNC_URL)

    assert response.status_code == 202
    stalled.refresh_from_db()
    assert stalled.status == "failed" and "no progress for 30 minutes" in stalled.reason
    assert SyncRun.objects.get(pk=response.json()["id"]).status == "completed"
    assert [d["message"] for d in sent.of("billing_data_fetch_failed")] == [stalled.reason]


def test_a_recent_running_run_still_blocks(stripe, api, account):
    assert connect(api).status_code == 201
    SyncRun.objects.create(account=account).resources.create(resource="customers", status="running")
    assert api.post(SYNC_URL).status_code == 409
