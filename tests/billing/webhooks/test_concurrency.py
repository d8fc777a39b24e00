"""Concurrency proofs on PostgreSQL (SPEC §3): real threads, each with its own connection, released together.

Duplicate deliveries race on the insert, duplicate messages race on the claim; either way a handler's effect
happens once."""

import random
import threading

import pytest
from django.db import connections
from rest_framework.test import APIClient

from billing.models import WebhookEvent
from billing.stripe.client import StripeClient
from billing.webhooks import operations, processing
from billing.webhooks.intake import Delivery, webhook_receive_batch
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
        outcomes = run_concurrently(lambda _: processing.webhook_event_process(event_pk=row.pk).status, CLIENTS)

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
            processing.webhook_event_process(event_pk=row.pk)
        finally:
            connections.close_all()

    with registered("account", TYPE, RecordingHandler(on_run=hold)) as handler:
        first = threading.Thread(target=first_worker)
        first.start()
        try:
            assert started.wait(timeout=30)
            late = run_concurrently(lambda _: processing.webhook_event_process(event_pk=row.pk).status, CLIENTS - 1)
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
        operations.webhook_event_replay(stripe_event_id=event["id"], account=connected)

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
        return webhook_receive_batch(deliveries=mine)

    with registered("account", TYPE, RecordingHandler()) as handler:
        results = run_concurrently(write, CLIENTS)

    receipts = [r for batch in results for r in batch]
    assert all(not isinstance(r, Exception) for r in receipts)
    for event in events:
        firsts = [r for r in receipts if r.stripe_event_id == event["id"] and not r.duplicate]
        assert len(firsts) == 1, event["id"]
    assert WebhookEvent.objects.count() == 20
    assert sorted(handler.calls) == sorted(e["id"] for e in events)


def test_workers_whose_batches_take_each_others_pending_events_run_each_event_once(connected):
    """Each worker's batch takes its message's events and any other pending ones (webhook_events_process's
    `more`), so batches overlap; the claims skip rows another claim holds instead of waiting for them (two
    claims each holding some of the other's events deadlocked)."""
    rows = [stored(connected, f"evt_more_{n}") for n in range(240)]
    messages = [[row.pk for row in rows[i::CLIENTS]] for i in range(CLIENTS)]
    with registered("account", TYPE, RecordingHandler()) as handler:
        outcomes = run_concurrently(
            lambda i: processing.webhook_events_process(event_pks=messages[i], more=60), CLIENTS
        )

    assert sorted(handler.calls) == sorted(row.stripe_event_id for row in rows)  # each once
    by_event: dict = {}
    for result in outcomes:
        for pk, outcome in result.items():
            by_event.setdefault(pk, []).append(outcome.status)
    assert all(sorted(statuses)[0] == Status.PROCESSED for statuses in by_event.values())
    assert set(WebhookEvent.objects.values_list("status", "attempts")) == {(Status.PROCESSED, 1)}


def test_overlapping_mirror_batches_lock_rows_in_one_order(connected, caplog):
    """Workers' batches about the same objects, in different orders: customers seen for the first time and
    invoices and charges that name them, some written before their customer. Every batch locks rows in one
    order (customers first, the rows waiting for them in their own table's turn), so none waits on another
    that waits on it: no batch fails and falls back to one by one, and every row ends linked."""
    from billing.models import Charge, Customer, Invoice
    from tests.billing.stripe_objects import today

    rng = random.Random(5)
    specs = []
    for n in range(30):
        customer = f"cus_L{n}"
        specs += [
            ("customer.created", today("customer", id=customer, email=f"{n}@x.com")),
            ("invoice.updated", today("invoice", id=f"in_L{n}", customer=customer)),
            ("charge.updated", today("charge", id=f"ch_L{n}", customer=customer)),
        ]
    # Half the invoices and charges arrive (and are processed) before any customer: they wait to be linked.
    early = [stored_mirror(connected, f"evt_e{k}", *specs[k], created=1) for k in range(len(specs)) if k % 6 in (1, 2)]
    processing.webhook_events_process(event_pks=[row.pk for row in early])
    messages = []
    for i in range(CLIENTS):
        picked = rng.sample(range(len(specs)), 40)
        messages.append([stored_mirror(connected, f"evt_m{i}_{k}", *specs[k], created=10 + i).pk for k in picked])

    with caplog.at_level("INFO", logger="billing.webhooks.processing"):
        run_concurrently(lambda i: processing.webhook_events_process(event_pks=messages[i]), CLIENTS)

    assert not [r for r in caplog.records if "one by one" in r.getMessage()]
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {Status.PROCESSED}
    customers = set(Customer.objects.filter(account=connected).values_list("stripe_id", flat=True))
    assert len(customers) > 20
    for model in (Invoice, Charge):
        linked = model.objects.filter(account=connected, customer__isnull=False)
        mirrored = set(model.objects.filter(account=connected).values_list("customer_stripe_id", flat=True))
        assert set(linked.values_list("customer__stripe_id", flat=True)) == mirrored & customers


def stored_mirror(account, event_id: str, event_type: str, obj: dict, *, created: int) -> WebhookEvent:
    return stored_event(account, event_id, event_type=event_type, obj=obj, created=created)
