"""Concurrency proofs on PostgreSQL (SPEC §3): real threads, each with its own connection, released together.

Duplicate deliveries race on the insert, duplicate messages race on the claim; either way a handler's effect
happens once."""

import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from billing.models import WebhookEvent
from billing.services import webhooks
from billing.services.webhook_intake import Delivery, webhook_receive_batch
from billing.stripe.client import StripeClient
from tests.helpers.handlers import RecordingHandler, registered
from tests.helpers.stripe_signing import make_event, signed_delivery
from tests.helpers.threads import run_concurrently
from tests.helpers.webhooks import ACCOUNT_SECRET, account_url, connect, stored_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
Status = WebhookEvent.Status
TYPE = "zz_test.concurrent.updated"
CLIENTS = 8


@pytest.fixture
def connected(requires_postgres, account):
    connect(account)
    return account


def deliver_concurrently(account, event: dict) -> list:
    body, headers = signed_delivery(event, ACCOUNT_SECRET)

    def post(_):
        return APIClient().post(account_url(account), data=body, content_type="application/json", **headers)

    return run_concurrently(post, CLIENTS)


def test_the_same_event_delivered_by_several_clients_at_once_runs_its_handler_once(connected):
    event = make_event(TYPE, {"id": "obj_c1", "object": "thing"})
    with registered("account", TYPE, RecordingHandler()) as handler:
        responses = deliver_concurrently(connected, event)

    assert [r.status_code for r in responses] == [200] * CLIENTS
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * (CLIENTS - 1)
    row = WebhookEvent.objects.get()
    assert handler.calls == [event["id"]]
    assert (row.status, row.attempts) == (Status.PROCESSED, 1)


def stored(account, event_id: str) -> WebhookEvent:
    return stored_event(account, event_id, event_type=TYPE)


def test_several_workers_racing_to_claim_one_event_run_it_once(connected):
    row = stored(connected, "evt_claim_race")
    with registered("account", TYPE, RecordingHandler()) as handler:
        outcomes = run_concurrently(lambda _: webhooks.webhook_event_process(event_pk=row.pk).status, CLIENTS)

    assert sorted(outcomes) == [Status.PROCESSED] + ["skipped"] * (CLIENTS - 1)
    assert handler.calls == ["evt_claim_race"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PROCESSED, 1)


def test_duplicate_messages_arriving_while_the_event_is_being_processed_do_not_run_it_again(connected):
    """The first worker's handler is held mid-run while the others arrive; only then is it let go."""
    row = stored(connected, "evt_in_flight")
    started, release = threading.Event(), threading.Event()

    def hold(event):
        started.set()
        assert release.wait(timeout=30), "never released"

    def first_worker():
        try:
            webhooks.webhook_event_process(event_pk=row.pk)
        finally:
            connections.close_all()

    with registered("account", TYPE, RecordingHandler(on_run=hold)) as handler:
        first = threading.Thread(target=first_worker)
        first.start()
        try:
            assert started.wait(timeout=30)
            late = run_concurrently(lambda _: webhooks.webhook_event_process(event_pk=row.pk).status, CLIENTS - 1)
        finally:
            release.set()
            first.join(timeout=30)

    assert late == ["skipped"] * (CLIENTS - 1)
    assert handler.calls == ["evt_in_flight"]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.PROCESSED, 1)


def test_a_handler_failing_four_times_then_succeeding_under_concurrent_deliveries_is_processed_once(connected):
    event = make_event(TYPE, {"id": "obj_c2", "object": "thing"})
    with registered("account", TYPE, RecordingHandler(failures=4)) as handler:
        deliver_concurrently(connected, event)

    row = WebhookEvent.objects.get()
    assert len(handler.calls) == 5 and handler.successes == [event["id"]]
    assert (row.status, row.attempts, row.last_error) == (Status.PROCESSED, 5, "")


def test_an_always_failing_handler_makes_one_dead_letter_then_replay_processes_it(connected, monkeypatch):
    event = make_event(TYPE, {"id": "obj_c3", "object": "thing"})
    with registered("account", TYPE, RecordingHandler(always_fail=True)) as broken:
        deliver_concurrently(connected, event)

    row = WebhookEvent.objects.get()
    assert len(broken.calls) == 5
    assert (row.status, row.attempts) == (Status.DEAD, 5)
    assert row.last_error == "RuntimeError: handler fault on run 5" and "Traceback" in row.last_traceback

    # The fault is fixed; staff replay it: fetched again, attempts reset, processed.
    monkeypatch.setattr(StripeClient, "retrieve_event", lambda client, event_id: event)
    with registered("account", TYPE, RecordingHandler()) as fixed:
        webhooks.webhook_event_replay(stripe_event_id=event["id"], account=connected)

    row.refresh_from_db()
    assert fixed.calls == [event["id"]]
    assert (row.status, row.attempts, row.last_error) == (Status.PROCESSED, 1, "")


def test_overlapping_batches_written_at_once_store_each_event_once(connected):
    """The ASGI intake of several server processes: batches that share events race between their read of what
    is stored and their insert. The loser's insert fails and it stores row by row: every event is stored
    once, and exactly one delivery of each is answered as the one that stored it."""
    events = [make_event(TYPE, {"id": f"obj_b{n}", "object": "thing"}) for n in range(20)]
    deliveries = []
    for event in events:
        body, headers = signed_delivery(event, ACCOUNT_SECRET)
        deliveries.append(Delivery(body, headers["HTTP_STRIPE_SIGNATURE"], str(connected.pk)))

    def write(i):
        mine = deliveries[i % 2 :: 1] if i % 2 else list(reversed(deliveries))
        return webhook_receive_batch(mine)

    with registered("account", TYPE, RecordingHandler()) as handler:
        results = run_concurrently(write, CLIENTS)

    receipts = [r for batch in results for r in batch]
    assert all(not isinstance(r, Exception) for r in receipts)
    for event in events:
        firsts = [r for r in receipts if r.stripe_event_id == event["id"] and not r.duplicate]
        assert len(firsts) == 1, event["id"]
    assert WebhookEvent.objects.count() == 20
    assert sorted(handler.calls) == sorted(e["id"] for e in events)
