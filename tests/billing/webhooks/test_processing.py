"""Processing (SPEC §3): claim, handler and "processed" together, retries with backoff, dead letters, ignored
types, the sweeper, replay and purge."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from billing.models import WebhookEvent
from billing.stripe.client import StripeClient
from billing.tasks import process_webhook_event, sweep_webhook_events
from billing.webhooks import operations, processing
from billing_project.celery import app as celery_app
from core import errors
from tests.helpers.handlers import RecordingHandler, listening, registered
from tests.helpers.stripe_signing import make_event
from tests.helpers.webhooks import (
    ACCOUNT_SECRET,
    PLATFORM_SECRET,
    PLATFORM_URL,
    account_url,
    connect,
    post_event,
    stored_event,
)

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status
TYPE = "zz_test.thing.updated"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10


def deliver(account, event_type=TYPE, *, capture, **kwargs):
    """Posts a signed delivery and runs what intake enqueued (Celery is eager in tests)."""
    event = make_event(event_type, {"id": "obj_1", "object": "thing"}, **kwargs)
    with capture(execute=True):
        response = post_event(account_url(account), event, ACCOUNT_SECRET)
    assert response.status_code == 200, response.content
    return WebhookEvent.objects.get(stripe_event_id=event["id"], account=account)


def test_a_delivery_runs_its_handler_once_and_is_marked_processed(connected, django_capture_on_commit_callbacks):
    with registered("account", TYPE, RecordingHandler()) as handler:
        row = deliver(connected, capture=django_capture_on_commit_callbacks)
        # A duplicate message for the same event (a Celery redelivery) finds nothing to claim.
        assert process_webhook_event.delay(row.pk).get() == "skipped"

    row.refresh_from_db()
    assert handler.calls == [row.stripe_event_id]
    assert (row.status, row.attempts, row.last_error) == (Status.PROCESSED, 1, "")
    assert row.processed_at is not None and row.next_attempt_at is None


def test_the_handlers_effect_and_processed_commit_together(connected, django_capture_on_commit_callbacks):
    """A handler that wrote and then failed leaves no trace of its write, and the event is not processed."""
    from accounts.models import Account

    def write_then_fail(event):
        Account.objects.filter(pk=event.account_id).update(name="changed by a failed handler")
        raise RuntimeError("after the write")

    with registered("account", TYPE, RecordingHandler(on_run=write_then_fail)):
        row = deliver(connected, capture=django_capture_on_commit_callbacks)

    connected.refresh_from_db()
    row.refresh_from_db()
    assert connected.name != "changed by a failed handler"
    assert row.status == Status.DEAD


def test_a_failing_listener_undoes_the_handlers_effect_too(connected, django_capture_on_commit_callbacks):
    """A listener shares its handler's savepoint: the handler's write and the listener's fault fail together."""
    from accounts.models import Account

    def write(event):
        Account.objects.filter(pk=event.account_id).update(name="written by the handler")

    def fail(event):
        raise RuntimeError("listener fault")

    with registered("account", TYPE, RecordingHandler(on_run=write)), listening("account", TYPE, fail):
        row = deliver(connected, capture=django_capture_on_commit_callbacks)

    connected.refresh_from_db()
    row.refresh_from_db()
    assert connected.name != "written by the handler"
    assert row.status == Status.DEAD and "listener fault" in row.last_error


@pytest.fixture
def top_of_the_jitter(monkeypatch):
    """The backoff's jitter drawn at its top, so that each delay is its ceiling (core/backoff.py)."""
    monkeypatch.setattr("core.backoff.random.random", lambda: 1.0)


def test_a_failure_is_recorded_and_retried_with_backoff(connected, top_of_the_jitter):
    row = stored_event(connected, "evt_fail", event_type=TYPE)
    with registered("account", TYPE, RecordingHandler(always_fail=True)):
        first = processing.webhook_event_process(event_pk=row.pk)
        row.refresh_from_db()
        assert (first.status, first.retry_in) == (Status.FAILED, 10)
        assert (row.status, row.attempts) == (Status.FAILED, 1)
        assert row.last_error == "RuntimeError: handler fault on run 1"
        assert "Traceback" in row.last_traceback and "handler fault on run 1" in row.last_traceback
        assert timedelta(seconds=9) < row.next_attempt_at - timezone.now() <= timedelta(seconds=10)

        second = processing.webhook_event_process(event_pk=row.pk)
        assert second.retry_in == 20  # doubled
        assert [processing.retry_delay(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]


def test_retry_delays_are_jittered_under_a_doubling_ceiling(settings):
    """The same backoff as Stripe calls': a draw in [1 s, base * 2**(n-1)], capped, never a fixed delay that
    would bring the events one outage failed back all at once."""
    settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_SECONDS = 10, 60
    for attempts, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = {processing.retry_delay(attempts) for _ in range(200)}
        assert min(delays) >= 1 and max(delays) <= ceiling
        assert len(delays) > 1  # jittered


def test_a_handler_that_fails_four_times_then_succeeds_is_processed_once(connected, django_capture_on_commit_callbacks):
    """Through the Celery task: each failure raises Retry (eager mode runs the retry at once)."""
    with registered("account", TYPE, RecordingHandler(failures=4)) as handler:
        row = deliver(connected, capture=django_capture_on_commit_callbacks)

    row.refresh_from_db()
    assert len(handler.calls) == 5 and handler.successes == [row.stripe_event_id]
    assert (row.status, row.attempts, row.last_error) == (Status.PROCESSED, 5, "")


def test_a_handler_that_always_fails_makes_a_dead_letter_after_five_attempts(
    connected, django_capture_on_commit_callbacks
):
    with registered("account", TYPE, RecordingHandler(always_fail=True)) as handler:
        row = deliver(connected, capture=django_capture_on_commit_callbacks)
        # Dead is final: neither a stray message nor the sweeper runs it again.
        assert process_webhook_event.delay(row.pk).get() == "skipped"
        assert processing.webhook_events_sweep() == 0

    row.refresh_from_db()
    assert len(handler.calls) == 5
    assert (row.status, row.attempts) == (Status.DEAD, 5)
    assert row.last_error == "RuntimeError: handler fault on run 5"
    assert row.next_attempt_at is None
    assert list(WebhookEvent.objects.dead_letters()) == [row]


def test_an_unknown_type_is_stored_as_ignored(connected, django_capture_on_commit_callbacks):
    row = deliver(connected, "zz_test.never.registered", capture=django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.status == Status.IGNORED and row.processed_at is not None


def test_an_account_event_never_reaches_a_platform_handler_and_vice_versa(
    connected, django_capture_on_commit_callbacks
):
    platform, account = RecordingHandler(), RecordingHandler()
    with registered("platform", TYPE, platform):
        account_row = deliver(connected, capture=django_capture_on_commit_callbacks)
    with registered("account", TYPE, account):
        event = make_event(TYPE, {"id": "obj_1", "object": "thing"})
        with django_capture_on_commit_callbacks(execute=True):
            assert post_event(PLATFORM_URL, event, PLATFORM_SECRET).status_code == 200
    platform_row = WebhookEvent.objects.get(stripe_event_id=event["id"])

    account_row.refresh_from_db()
    assert platform.calls == [] and account.calls == []
    assert account_row.status == platform_row.status == Status.IGNORED


def test_a_connect_event_reaches_the_account_handler_not_the_platform_one(account, django_capture_on_commit_callbacks):
    connect(account, stripe_user_id="acct_C1")
    platform, account_side = RecordingHandler(), RecordingHandler()
    event = make_event(TYPE, {"id": "obj_1", "object": "thing"}, account="acct_C1")
    with registered("platform", TYPE, platform), registered("account", TYPE, account_side):
        with django_capture_on_commit_callbacks(execute=True):
            assert post_event(PLATFORM_URL, event, PLATFORM_SECRET).status_code == 200

    assert platform.calls == [] and account_side.calls == [event["id"]]
    assert WebhookEvent.objects.get().status == Status.PROCESSED


# --- the sweeper: a lost Celery message must not lose an event


def stored(account, *, status=Status.PENDING, attempts=0, next_attempt_in=-1, claimed_ago=None, event_id="evt_s"):
    now = timezone.now()
    return stored_event(
        account,
        event_id,
        event_type=TYPE,
        status=status,
        attempts=attempts,
        claimed_at=now - timedelta(seconds=claimed_ago) if claimed_ago is not None else None,
        next_attempt_at=now + timedelta(seconds=next_attempt_in),
    )


def test_the_sweeper_enqueues_a_pending_event_whose_message_was_lost(connected, django_capture_on_commit_callbacks):
    lost = stored(connected, event_id="evt_lost")
    not_due = stored(connected, event_id="evt_not_due", next_attempt_in=60)
    with registered("account", TYPE, RecordingHandler()) as handler:
        with django_capture_on_commit_callbacks(execute=True):  # the messages go out after the sweep commits
            assert sweep_webhook_events.delay().get() == 1

    lost.refresh_from_db()
    not_due.refresh_from_db()
    assert handler.calls == ["evt_lost"]
    assert lost.status == Status.PROCESSED and not_due.status == Status.PENDING


def test_the_sweeper_retakes_a_processing_claim_older_than_the_lease(
    connected, settings, django_capture_on_commit_callbacks
):
    lease = settings.WEBHOOK_CLAIM_LEASE_SECONDS
    stale = stored(connected, status=Status.PROCESSING, attempts=1, claimed_ago=lease + 1, event_id="evt_stale")
    held = stored(
        connected,
        status=Status.PROCESSING,
        attempts=1,
        claimed_ago=5,
        next_attempt_in=lease,
        event_id="evt_held",
    )
    with registered("account", TYPE, RecordingHandler()) as handler:
        with django_capture_on_commit_callbacks(execute=True):
            assert processing.webhook_events_sweep() == 1
        # A message for the held one (a duplicate) does not run it while its worker's claim is live.
        assert processing.webhook_event_process(event_pk=held.pk).status == "skipped"

    stale.refresh_from_db()
    assert handler.calls == ["evt_stale"]
    assert (stale.status, stale.attempts) == (Status.PROCESSED, 2)


def test_a_claim_lost_on_the_last_attempt_makes_a_dead_letter(connected, settings):
    lease = settings.WEBHOOK_CLAIM_LEASE_SECONDS
    row = stored(connected, status=Status.PROCESSING, attempts=5, claimed_ago=lease + 1)
    with registered("account", TYPE, RecordingHandler()) as handler:
        assert processing.webhook_events_sweep() == 0
    row.refresh_from_db()
    assert handler.calls == [] and row.status == Status.DEAD and "lost" in row.last_error


def test_the_sweeper_pushes_the_deadline_so_it_does_not_enqueue_twice(
    connected, monkeypatch, django_capture_on_commit_callbacks
):
    row = stored(connected)
    sent = []
    monkeypatch.setattr(process_webhook_event, "apply_async", lambda args, **options: sent.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        assert processing.webhook_events_sweep() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert processing.webhook_events_sweep() == 0
    row.refresh_from_db()
    assert sent == [row.pk] and row.next_attempt_at > timezone.now()


def test_the_sweeper_is_scheduled_every_minute_in_the_database():
    task = PeriodicTask.objects.get(name="billing: sweep webhook events")
    assert task.enabled and task.task == "billing.sweep_webhook_events"
    assert (task.interval.every, task.interval.period) == (1, "minutes")
    assert task.task in celery_app.tasks


# --- staff operations


class Events(dict):
    calls: list


@pytest.fixture
def stripe_events(monkeypatch):
    """Stripe's copy of events, served to retrieve_event (the e2e tests use the local Stripe instead)."""
    events, calls = Events(), []

    def retrieve_event(client, event_id):
        calls.append((repr(client), event_id))
        if event_id not in events:
            raise errors.StripeRejected(f"No such event: {event_id}")
        return events[event_id]

    monkeypatch.setattr(StripeClient, "retrieve_event", retrieve_event)
    events.calls = calls
    return events


def test_replaying_a_dead_letter_after_the_fault_is_fixed_processes_it(
    connected, stripe_events, django_capture_on_commit_callbacks
):
    with registered("account", TYPE, RecordingHandler(always_fail=True)):
        row = deliver(connected, capture=django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.status == Status.DEAD
    stripe_events[row.stripe_event_id] = row.payload

    with registered("account", TYPE, RecordingHandler()) as fixed:
        with django_capture_on_commit_callbacks(execute=True):
            operations.webhook_event_replay(stripe_event_id=row.stripe_event_id, account=connected)

    row.refresh_from_db()
    assert fixed.calls == [row.stripe_event_id]
    assert (row.status, row.attempts, row.last_error, row.last_traceback) == (Status.PROCESSED, 1, "", "")
    # Fetched with the account's own client, not the platform's.
    assert stripe_events.calls == [(f"<StripeClient account:{connected.pk} stripe_account=None>", row.stripe_event_id)]


def test_replaying_an_event_we_never_received_stores_and_processes_it(
    stripe_events, django_capture_on_commit_callbacks
):
    event = make_event(TYPE, {"id": "obj_9", "object": "thing"})
    stripe_events[event["id"]] = event
    with registered("platform", TYPE, RecordingHandler()) as handler:
        with django_capture_on_commit_callbacks(execute=True):
            row = operations.webhook_event_replay(stripe_event_id=event["id"])

    row.refresh_from_db()
    assert handler.calls == [event["id"]]
    assert (row.relationship, row.account_id, row.status) == ("platform", None, Status.PROCESSED)
    assert stripe_events.calls[0][0] == "<StripeClient platform stripe_account=None>"


def test_an_event_held_by_a_worker_cannot_be_replayed(connected, stripe_events):
    row = stored(connected, status=Status.PROCESSING, attempts=1, claimed_ago=1, next_attempt_in=300)
    stripe_events[row.stripe_event_id] = {"id": row.stripe_event_id, "type": TYPE, "created": 1, "data": {}}
    with pytest.raises(errors.Conflict):
        operations.webhook_event_replay(stripe_event_id=row.stripe_event_id, account=connected)


def test_replaying_an_event_stripe_does_not_know_raises_and_changes_nothing(connected, stripe_events):
    row = stored(connected, status=Status.DEAD, attempts=5)
    with pytest.raises(errors.StripeRejected):
        operations.webhook_event_replay(stripe_event_id=row.stripe_event_id, account=connected)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.DEAD, 5)


def test_purge_deletes_only_dead_letters(connected):
    dead = stored(connected, status=Status.DEAD, event_id="evt_dead")
    alive = stored(connected, status=Status.FAILED, event_id="evt_failed")
    assert operations.webhook_dead_letter_purge(stripe_event_id="evt_failed", account=connected) == 0
    assert operations.webhook_dead_letters_purge(event_pks=[dead.pk, alive.pk]) == 1
    assert list(WebhookEvent.objects.values_list("stripe_event_id", flat=True)) == ["evt_failed"]


def test_dead_letters_are_listed_newest_first_and_by_relationship(connected):
    from billing.webhooks.selectors import dead_letter_list, webhook_event_get

    older = stored(connected, status=Status.DEAD, event_id="evt_d1")
    newer = stored(connected, status=Status.DEAD, event_id="evt_d2")
    stored(connected, status=Status.FAILED, event_id="evt_f1")
    WebhookEvent.objects.filter(pk=older.pk).update(received_at=newer.received_at - timedelta(minutes=1))

    assert list(dead_letter_list()) == [newer, older]
    assert list(dead_letter_list(relationship="platform")) == []
    assert list(dead_letter_list(account=connected)) == [newer, older]
    assert webhook_event_get(stripe_event_id="evt_d1", account=connected) == older
    assert webhook_event_get(stripe_event_id="evt_d1") is None  # not a platform event


# --- batches (one message per intake batch) -------------------------------------------------------------------


def test_in_a_batch_a_failing_handler_undoes_only_its_own_effect(connected, top_of_the_jitter):
    """Each handler runs in a savepoint of the batch's transaction: the failing one's write is rolled back and
    its event retried; the others' writes and "processed" commit."""
    from billing.models import Customer

    def write_then_maybe_fail(event):
        Customer.objects.create(account=event.account, stripe_id=event.object_id)
        if event.object_id == "cus_bad":
            raise RuntimeError("fault after a write")

    rows = [
        stored_event(connected, f"evt_{object_id}", event_type=TYPE, obj={"id": object_id, "object": "customer"})
        for object_id in ("cus_a", "cus_bad", "cus_c")
    ]

    with registered("account", TYPE, write_then_maybe_fail):
        outcomes = processing.webhook_events_process(event_pks=[r.pk for r in rows])

    assert [outcomes[r.pk].status for r in rows] == [Status.PROCESSED, Status.FAILED, Status.PROCESSED]
    assert outcomes[rows[1].pk].retry_in == 10
    assert sorted(Customer.objects.values_list("stripe_id", flat=True)) == ["cus_a", "cus_c"]
    bad = WebhookEvent.objects.get(pk=rows[1].pk)
    assert (bad.status, bad.attempts) == (Status.FAILED, 1) and "fault after a write" in bad.last_error
    assert WebhookEvent.objects.filter(status=Status.PROCESSED).count() == 2


def test_a_batch_leaves_alone_the_events_another_worker_holds(connected):
    held, free = (
        stored_event(
            connected,
            f"evt_hold_{n}",
            event_type=TYPE,
            status=status,
            claimed_at=timezone.now() if status == Status.PROCESSING else None,
        )
        for n, status in enumerate((Status.PROCESSING, Status.PENDING))
    )
    with registered("account", TYPE, RecordingHandler()) as handler:
        outcomes = processing.webhook_events_process(event_pks=[held.pk, free.pk])

    assert (outcomes[held.pk].status, outcomes[free.pk].status) == ("skipped", Status.PROCESSED)
    assert handler.calls == ["evt_hold_1"]


def test_a_worker_whose_batch_comes_back_full_wakes_another_for_the_rest(connected, settings):
    """Deliveries that found the doorbell rung published nothing: a full claim means more may be waiting."""
    from billing.tasks import process_webhook_events

    settings.WEBHOOK_BATCH_MAX = 3
    rows = [stored_event(connected, f"evt_full_{n}", event_type="zz_test.unhandled") for n in range(7)]

    process_webhook_events.delay([rows[0].pk])

    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {Status.IGNORED}
    assert WebhookEvent.objects.values("claimed_at").distinct().count() == 3  # batches of 3, 3 and 1


def test_a_worker_whose_own_events_were_taken_still_wakes_another_when_it_took_all_it_could(connected, settings):
    """Its own events already done, it took its `more` (here 2) of the 5 waiting: the rest rang no bell either."""
    from billing.tasks import process_webhook_events

    settings.WEBHOOK_BATCH_MAX = 3
    done = stored_event(connected, "evt_done", event_type="zz_test.unhandled", status=Status.PROCESSED)
    for n in range(5):
        stored_event(connected, f"evt_wait_{n}", event_type="zz_test.unhandled")

    process_webhook_events.delay([done.pk])

    assert not WebhookEvent.objects.filter(status=Status.PENDING).exists()


@pytest.mark.parametrize(
    ("stored_ago", "wait"),
    [(0.0, 0.2), (0.05, 0.15), (0.2, 0.0), (5.0, 0.0), (-3.0, 0.2), (None, 0.0)],
)
def test_a_worker_lets_its_batch_gather_until_the_linger_after_the_events_were_stored(settings, stored_ago, wait):
    """From when intake stored the events, not from when the message arrived: a message that waited in the
    queue waits no more; a publisher's clock ahead of the worker's never makes it wait longer than the linger."""
    settings.WEBHOOK_BATCH_LINGER_MS = 200
    now = 1_800_000_000.0
    stored_at = None if stored_ago is None else now - stored_ago
    assert processing.batch_wait(stored_at, now=now) == pytest.approx(wait)


def test_no_linger_when_it_is_switched_off(settings):
    settings.WEBHOOK_BATCH_LINGER_MS = 0
    assert processing.batch_wait(1_800_000_000.0, now=1_800_000_000.0) == 0
