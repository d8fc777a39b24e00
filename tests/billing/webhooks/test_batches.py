"""A worker's batch of events (one intake batch per message): mirror handlers apply several events at once
through their batch form (mirror.apply_event_objects) with the same rules as one by one: the newest event
per object wins, an event older than the row changes nothing, deletions are marked, and a batch that fails
is handled one event at a time so that only the event at fault fails."""

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Customer, Invoice, Price, Product, WebhookEvent
from billing.webhooks import processing
from tests.billing.stripe_objects import localstripe, today
from tests.factories import AccountFactory
from tests.helpers.stripe_signing import make_event
from tests.helpers.webhooks import connect, stored_event

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status
T0 = 1_750_000_000


def stored(account, event_type: str, obj: dict, created: int) -> WebhookEvent:
    event = make_event(event_type, obj, created=created)
    return stored_event(account, event["id"], event_type=event_type, obj=obj, created=created, payload=event)


def process(rows) -> dict:
    return processing.webhook_events_process(event_pks=[row.pk for row in rows])


def customer(n: int, **changes) -> dict:
    return today("customer", id=f"cus_B{n}", **changes)


def test_the_newest_event_per_object_wins_in_one_batch_whatever_the_order(connected):
    process([stored(connected, "customer.created", customer(n, email=f"v0-{n}@x.com"), T0) for n in range(5)])
    events = [
        stored(connected, "customer.updated", customer(n, email=f"v{v}-{n}@x.com"), T0 + v)
        for n in range(5)
        for v in (1, 2, 3)
    ]
    random.Random(7).shuffle(events)

    outcomes = process(events)

    assert {o.status for o in outcomes.values()} == {Status.PROCESSED}
    rows = Customer.objects.filter(account=connected).order_by("stripe_id")
    assert [c.email for c in rows] == [f"v3-{n}@x.com" for n in range(5)]
    assert all(c.last_event_created == T0 + 3 for c in rows)


def test_a_batch_costs_a_few_statements_not_a_few_per_event(connected, settings):
    settings.WEBHOOK_SQLITE_WRITE_CHUNK = 0  # one transaction on SQLite too (see the test on chunks below)
    process([stored(connected, "customer.created", customer(n), T0) for n in range(30)])
    events = [stored(connected, "customer.updated", customer(n, name=f"Renamed {n}"), T0 + 1) for n in range(30)]

    with CaptureQueriesContext(connection) as queries:
        process(events)

    assert Customer.objects.filter(name__startswith="Renamed").count() == 30
    assert len(queries) <= 12  # claim, lock, lock the mirror rows, one upsert, "processed", savepoints, commit


def test_events_older_than_the_mirror_change_nothing(connected):
    process([stored(connected, "customer.created", customer(1, email="new@x.com"), T0 + 100)])

    process([stored(connected, "customer.updated", customer(1, email=f"old{v}@x.com"), T0 + v) for v in range(3)])

    row = Customer.objects.get(stripe_id="cus_B1")
    assert (row.email, row.last_event_created) == ("new@x.com", T0 + 100)
    assert WebhookEvent.objects.filter(status=Status.PROCESSED).count() == 4


def test_deletions_and_first_events_in_one_batch(connected):
    product = today("product", id="prod_B1")
    process([stored(connected, "product.created", product, T0)])

    outcomes = process(
        [
            stored(connected, "product.deleted", {**product, "deleted": True}, T0 + 2),
            stored(connected, "product.updated", {**product, "name": "Before deletion"}, T0 + 1),
            stored(connected, "customer.created", customer(9), T0),  # no row yet: inserted first
            stored(connected, "price.updated", localstripe("plan", id="plan_B1"), T0),
            stored(connected, "price.updated", today("price", id="price_B1"), T0),
        ]
    )

    assert {o.status for o in outcomes.values()} == {Status.PROCESSED}
    assert Product.objects.get(stripe_id="prod_B1").deleted
    assert Customer.objects.filter(stripe_id="cus_B9").exists()
    assert set(Price.objects.values_list("stripe_id", flat=True)) == {"plan_B1", "price_B1"}


def test_a_failing_batch_is_handled_one_by_one_and_only_the_event_at_fault_fails(connected):
    process([stored(connected, "customer.created", customer(n), T0) for n in range(3)])
    good = [stored(connected, "customer.updated", customer(n, name="Fine"), T0 + 1) for n in range(3)]
    bad = stored(connected, "customer.updated", {"id": "thing_1", "object": "thing"}, T0 + 1)

    outcomes = process([*good, bad])

    assert [outcomes[row.pk].status for row in good] == [Status.PROCESSED] * 3
    assert outcomes[bad.pk].status == Status.FAILED
    assert "does not keep Stripe 'thing'" in WebhookEvent.objects.get(pk=bad.pk).last_error
    assert Customer.objects.filter(name="Fine").count() == 3


def test_a_batch_leaves_the_mirror_as_one_by_one_processing_does(account):
    """The same events, shuffled, for two accounts: through one batch for one pair of accounts, one at a time
    for another pair. The mirrors end up the same, row for row."""
    batched = [account, AccountFactory()]
    single = [AccountFactory(), AccountFactory()]
    rng = random.Random(11)
    specs = []
    for step in range(60):
        n, side = rng.randrange(6), rng.randrange(2)
        kind = rng.choice(["customer", "invoice", "product"])
        created = T0 + rng.randrange(20)
        if kind == "customer":
            specs.append((side, "customer.updated", customer(n, name=f"name {step}"), created))
        elif kind == "invoice":
            obj = today("invoice", id=f"in_B{n}", customer=f"cus_B{n}", amount_due=100 * step)
            specs.append((side, "invoice.updated", obj, created))
        else:
            specs.append((side, "product.updated", today("product", id=f"prod_B{n}", name=f"p {step}"), created))
    for target in batched + single:
        connect(target)
        # Customers 3-5 are first seen in the batch, some after invoices that name them.
        process([stored(target, "customer.created", customer(n), T0 - 1) for n in range(3)])
    process([stored(batched[side], *spec) for side, *spec in specs])  # one batch
    for side, *spec in specs:
        process([stored(single[side], *spec)])  # one by one

    def mirror(target):
        return {
            model.__name__: sorted(
                model.objects.filter(account=target).values_list(
                    "stripe_id", "data", "deleted", "last_event_created", "customer__stripe_id"
                )
                if model is Invoice
                else model.objects.filter(account=target).values_list(
                    "stripe_id", "data", "deleted", "last_event_created"
                )
            )
            for model in (Customer, Invoice, Product)
        }

    for side in (0, 1):
        assert mirror(batched[side]) == mirror(single[side])
        assert mirror(batched[side])["Invoice"]  # the comparison is not of two empty mirrors
    linked = Invoice.objects.filter(account__in=batched, customer__isnull=False)
    pairs = linked.values_list("account_id", "customer__account_id", "customer_stripe_id", "customer__stripe_id")
    assert {c for *_, c in pairs} >= {"cus_B3", "cus_B4"}  # linked to customers first seen in the batch
    assert all(mine == theirs and named == got for mine, theirs, named, got in pairs)  # each to its own account's


def test_rows_waiting_for_a_customer_are_linked_when_a_batch_brings_it(connected):
    process([stored(connected, "invoice.created", today("invoice", id="in_W1", customer="cus_B7"), T0)])
    assert Invoice.objects.get(stripe_id="in_W1").customer is None  # its customer is not mirrored yet

    process([stored(connected, "customer.created", customer(n), T0 + 1) for n in (7, 8)])

    assert Invoice.objects.get(stripe_id="in_W1").customer == Customer.objects.get(stripe_id="cus_B7")


def test_a_batch_larger_than_the_backends_parameter_limit_is_applied_whole(connected):
    """Lookups and locks go as (account, id) pairs: past SQLite's 999 parameters they take several statements."""
    from billing.stripe import mirror

    items = [mirror.EventObject(connected, customer(n, email=f"{n}@x.com"), f"evt_L{n}", T0) for n in range(700)]

    applied = mirror.apply_event_objects(items)

    assert len(applied) == 700
    assert Customer.objects.filter(account=connected).count() == 700
    again = [mirror.EventObject(connected, customer(n, email="new@x.com"), f"evt_M{n}", T0 + 1) for n in range(700)]
    assert len(mirror.apply_event_objects(again)) == 700
    assert set(Customer.objects.filter(account=connected).values_list("email", flat=True)) == {"new@x.com"}


def test_a_listener_keeps_the_mirror_handlers_batch_form(connected, settings):
    """A listener on a mirrored type (the marketplace listens to payment events) leaves the mirror's batch form in
    place: the batch is still applied in a few statements, and the listener hears every event once."""
    settings.WEBHOOK_SQLITE_WRITE_CHUNK = 0
    from billing.webhooks import registry
    from tests.helpers.handlers import listening

    process([stored(connected, "customer.created", customer(n), T0) for n in range(30)])
    events = [stored(connected, "customer.updated", customer(n, name=f"Renamed {n}"), T0 + 1) for n in range(30)]
    heard = []

    with listening("account", "customer.updated", lambda event: heard.append(event.stripe_event_id)):
        assert hasattr(registry.handler_for("account", "customer.updated"), "apply_many")
        with CaptureQueriesContext(connection) as queries:
            outcomes = process(events)

    assert {o.status for o in outcomes.values()} == {Status.PROCESSED}
    assert sorted(heard) == sorted(e.stripe_event_id for e in events)
    assert len(queries) <= 12, [q["sql"][:80] for q in queries.captured_queries]
    assert {c.name for c in Customer.objects.filter(account=connected)} == {f"Renamed {n}" for n in range(30)}


def test_a_failing_listener_in_a_batch_fails_only_its_own_event(connected):
    from tests.helpers.handlers import listening

    process([stored(connected, "customer.created", customer(n), T0) for n in range(3)])
    events = [stored(connected, "customer.updated", customer(n, name=f"Renamed {n}"), T0 + 1) for n in range(3)]
    bad = events[1].stripe_event_id

    def listener(event):
        if event.stripe_event_id == bad:
            raise RuntimeError("listener fault")

    with listening("account", "customer.updated", listener):
        outcomes = process(events)

    assert outcomes[events[1].pk].status == Status.FAILED
    assert {outcomes[e.pk].status for e in (events[0], events[2])} == {Status.PROCESSED}
    names = dict(Customer.objects.filter(account=connected).values_list("stripe_id", "name"))
    assert names["cus_B1"] != "Renamed 1" and names["cus_B0"] == "Renamed 0"


def test_on_sqlite_a_batch_is_handled_in_short_transactions_each_committing_its_own_events(connected, settings):
    """SQLite has one write lock, which intake needs for every delivery: a worker's batch takes it
    WEBHOOK_SQLITE_WRITE_CHUNK events at a time. Each transaction is whole: an event's effect and its status land
    together, the events are handled in their objects' order across the chunks (the newest still wins), and a
    failing handler fails only its own event."""
    from tests.helpers.handlers import listening

    settings.WEBHOOK_SQLITE_WRITE_CHUNK = 4
    process([stored(connected, "customer.created", customer(n), T0) for n in range(5)])
    events = [
        stored(connected, "customer.updated", customer(n, email=f"v{v}-{n}@x.com"), T0 + v)
        for n in range(5)
        for v in (1, 2, 3)
    ]
    random.Random(3).shuffle(events)
    poison = next(e for e in events if e.payload["data"]["object"]["email"] == "v2-3@x.com")

    def fail_one(event):
        if event.pk == poison.pk:
            raise RuntimeError("this one")

    with listening("account", "customer.updated", fail_one), CaptureQueriesContext(connection) as queries:
        outcomes = process(events)

    assert {pk for pk, o in outcomes.items() if o.status != Status.PROCESSED} == {poison.pk}
    assert outcomes[poison.pk].status == Status.FAILED
    rows = Customer.objects.filter(account=connected).order_by("stripe_id")
    assert [c.email for c in rows] == [f"v3-{n}@x.com" for n in range(5)]
    # The 15 events' row locks, one per transaction: ceil(15 / 4) on SQLite; one on PostgreSQL.
    locks = [q for q in queries.captured_queries if q["sql"].startswith("SELECT") and '"claimed_at" = ' in q["sql"]]
    assert len(locks) == (4 if connection.vendor == "sqlite" else 1), [q["sql"][:120] for q in locks]
