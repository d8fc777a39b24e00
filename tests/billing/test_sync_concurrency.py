"""Concurrency proofs on PostgreSQL: real threads, each with its own database connection, lined up on a barrier.

- Every resource of a run finishing at the same instant completes the run exactly once, with one event.
- Two re-syncs started at the same instant: one run, the other refused.
- A webhook event and a sync page for the same object: whichever commits last, the newer state wins.
"""

import threading

import pytest
from django.db import connection as default_connection
from django.db import connections

from billing.models import Customer, StripeConnection, SyncResource, SyncRun
from billing.stripe import mirror, sync
from billing.stripe.sync_sources import RESOURCES
from core import errors
from tests.billing.stripe_objects import today
from tests.helpers.notifications import record_notifications

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 5


def run_together(functions) -> list:
    """Calls each function in its own thread, all released at once; returns results (or exceptions)."""
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def worker(index, function):
        try:
            barrier.wait(timeout=30)
            results[index] = function()
        except BaseException as exc:  # noqa: BLE001 - reported to the test, which asserts on it
            results[index] = exc
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    return results


@pytest.fixture
def connected(account, owner):
    return StripeConnection.objects.create(
        account=account, auth_mode="secret_key", secret_key="sk_test_concurrency", connected_by=owner
    )


def running_run(account, owner) -> SyncRun:
    """A run whose every resource has listed its last page and is about to be marked done."""
    run = SyncRun.objects.create(account=account, started_by=owner, kind="initial")
    SyncResource.objects.bulk_create(
        [
            SyncResource(run=run, resource=name, status="running", pass_id=run.pk, pass_started_at=run.started_at)
            for name in RESOURCES
        ]
    )
    return run


def test_resources_finishing_together_complete_the_run_once(requires_postgres, account, owner, connected, monkeypatch):
    sent = record_notifications(monkeypatch)
    monkeypatch.setattr(sync, "_enqueue", lambda *args: None)  # payment methods are already running here
    for _ in range(ROUNDS):
        sent.clear()
        run = running_run(account, owner)
        resource_ids = list(run.resources.values_list("pk", flat=True))

        results = run_together([lambda pk=pk: sync.sync_resource_finish(resource_id=pk) for pk in resource_ids])

        assert not [r for r in results if isinstance(r, BaseException)], results
        run.refresh_from_db()
        assert run.status == "completed"
        assert set(run.resources.values_list("status", flat=True)) == {"done"}
        assert len(sent.of("billing_data_fetched")) == 1
        assert sent.of("billing_data_fetch_failed") == []
        connected.refresh_from_db()
        assert (connected.status, connected.initialized) == ("ready", True)


def test_completion_checks_racing_complete_once(requires_postgres, account, owner, connected, monkeypatch):
    """The last step alone, called by many workers at once once every resource is done."""
    sent = record_notifications(monkeypatch)
    for _ in range(ROUNDS):
        sent.clear()
        run = running_run(account, owner)
        run.resources.update(status="done")

        results = run_together([lambda run_id=run.pk: sync.sync_run_complete_if_finished(run_id=run_id)] * 8)

        assert sorted(results) == [False] * 7 + [True]
        assert len(sent.of("billing_data_fetched")) == 1


def test_failures_racing_announce_once(requires_postgres, account, owner, connected, monkeypatch):
    sent = record_notifications(monkeypatch)
    run = running_run(account, owner)
    resource_ids = list(run.resources.values_list("pk", flat=True))

    results = run_together(
        [lambda pk=pk: sync.sync_run_fail(run_id=run.pk, reason=f"boom {pk}", resource_id=pk) for pk in resource_ids]
    )

    assert results.count(True) == 1
    run.refresh_from_db()
    assert run.status == "failed"
    assert [d["message"] for d in sent.of("billing_data_fetch_failed")] == [run.reason]
    connected.refresh_from_db()
    assert (connected.status, connected.status_reason) == ("failed", run.reason)


def test_two_resyncs_at_once_start_one_run(requires_postgres, account, owner, connected, monkeypatch):
    monkeypatch.setattr(sync, "_enqueue", lambda *args: None)

    results = run_together([lambda: sync.sync_start(account=account, user=owner)] * 4)

    runs = [r for r in results if isinstance(r, SyncRun)]
    refused = [r for r in results if isinstance(r, errors.Conflict)]
    assert len(runs) == 1 and len(refused) == 3, results
    assert all(r.code == "sync_already_running" for r in refused)
    assert SyncRun.objects.filter(account=account).count() == 1
    assert SyncResource.objects.filter(run=runs[0]).count() == len(RESOURCES)


def test_a_webhook_and_a_sync_page_racing_keep_the_newer_state(requires_postgres, account):
    """The page was read from Stripe at t=1000; the event happened at t=2000. Whichever commits last, the row
    ends with the event's state."""
    for _ in range(ROUNDS):
        Customer.objects.filter(account=account).delete()
        mirror.upsert_objects(account, "customer", [today("customer", email="old@x.io")], fetched_at=500)
        page = [today("customer", email="from-page@x.io")]
        event_object = today("customer", email="from-event@x.io")

        results = run_together(
            [
                lambda page=page: mirror.upsert_objects(account, "customer", page, fetched_at=1000),
                lambda obj=event_object: mirror.apply_event_object(account, obj, event_id="evt_1", event_created=2000),
            ]
        )

        assert not [r for r in results if isinstance(r, BaseException)], results
        row = Customer.objects.get(account=account)
        assert (row.email, row.last_event_id) == ("from-event@x.io", "evt_1")


def test_threads_use_their_own_connections(requires_postgres):
    both_connected = threading.Barrier(2)

    def backend_pid():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        both_connected.wait(timeout=30)  # both sessions open at once: two pids means two connections
        return pid

    assert len(set(run_together([backend_pid, backend_pid]))) == 2
    assert default_connection.vendor == "postgresql"
