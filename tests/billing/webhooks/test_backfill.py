"""No event is ever missed (issue 16 §3): Stripe's Events API read back, and what no delivery brought stored
through intake and processed by the same handlers.

Intake is "off" in these tests in the plainest way: no webhook endpoint is registered with the local Stripe, so
nothing is delivered, and whatever reaches the mirror came through the backfill alone."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from billing.models import Customer, WebhookBackfill, WebhookEvent
from billing.tasks import backfill_webhook_events, backfill_webhook_source
from billing.webhooks import backfill
from tests.billing.stripe_seed import Stripe
from tests.factories import AccountFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.webhooks import connect

pytestmark = pytest.mark.django_db

CONNECTED = "acct_1BackfillConnected"


@pytest.fixture
def connected(account, stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    connect(account, secret_key=TEST_SECRET_KEY, stripe_user_id=CONNECTED)
    return account


@pytest.fixture
def as_account(stripe_api_base):
    """Changes made in the connected account's own Stripe."""
    return Stripe(stripe_api_base, stripe_account=CONNECTED)


def run(account, capture, **kwargs):
    """The source's backfill task, and the processing it queued after commit (Celery is eager in tests)."""
    with capture(execute=True):
        return backfill_webhook_source.delay("account", str(account.pk), **kwargs).get()


def test_the_mirror_catches_up_from_the_backfill_alone(
    connected, as_account, stripe_server, django_capture_on_commit_callbacks
):
    created = as_account.post("/v1/customers", email="missed@example.com")
    (creation,) = as_account.list_all("/v1/events", type="customer.created")
    # A second earlier: two events of one second are ordered by id, which the fake draws at random.
    stripe_server.backdate(creation["id"], creation["created"] - 1)
    as_account.post(f"/v1/customers/{created['id']}", name="Renamed while nobody listened")
    assert not WebhookEvent.objects.exists()

    result = run(connected, django_capture_on_commit_callbacks)

    assert result["fed"] == result["listed"] >= 2
    customer = Customer.objects.get(account=connected, stripe_id=created["id"])
    assert (customer.email, customer.name) == ("missed@example.com", "Renamed while nobody listened")
    events = WebhookEvent.objects.filter(account=connected, object_id=created["id"])
    assert {e.type for e in events} >= {"customer.created", "customer.updated"}
    assert all(e.relationship == "account" and e.status == "processed" for e in events)


def test_a_second_run_stores_nothing_twice(connected, as_account, django_capture_on_commit_callbacks):
    as_account.post("/v1/customers", email="once@example.com")
    first = run(connected, django_capture_on_commit_callbacks)
    stored = WebhookEvent.objects.count()

    # Starting where the first ended less the overlap, the window lists the same events again: none is new.
    second = run(connected, django_capture_on_commit_callbacks)

    assert first["fed"] >= 1 and second["listed"] >= first["fed"] and second["fed"] == 0
    assert WebhookEvent.objects.count() == stored
    state = WebhookBackfill.objects.get(account=connected)
    assert (state.total_fed, state.last_fed, state.last_error) == (first["fed"], 0, "")


def test_an_event_already_delivered_is_not_stored_again(connected, as_account, django_capture_on_commit_callbacks):
    from billing.webhooks.intake import webhook_event_store

    as_account.post("/v1/customers", email="delivered@example.com")
    (event,) = as_account.list_all("/v1/events", type="customer.created")
    webhook_event_store(event=event, relationship="account", account=connected)  # as a delivery would have

    result = run(connected, django_capture_on_commit_callbacks)

    assert result["fed"] == result["listed"] - 1
    assert WebhookEvent.objects.filter(stripe_event_id=event["id"]).count() == 1


def test_the_window_starts_at_the_watermark_less_the_overlap(connected, settings):
    settings.WEBHOOK_BACKFILL_OVERLAP_SECONDS = 600
    through = timezone.now() - timedelta(hours=5)
    WebhookBackfill.objects.create(relationship="account", account=connected, checked_through=through)

    result = backfill.webhook_events_backfill(relationship="account", account_id=connected.pk)

    assert result.since == through - timedelta(seconds=600)
    state = WebhookBackfill.objects.get(account=connected)
    assert state.checked_through == result.until


def test_a_source_never_checked_starts_at_its_newest_event_or_its_connection(connected, settings):
    settings.WEBHOOK_BACKFILL_OVERLAP_SECONDS = 60
    first = backfill.webhook_events_backfill(relationship="account", account_id=connected.pk)
    assert first.since == connected.stripe_connection.created_at - timedelta(seconds=60)

    WebhookBackfill.objects.all().delete()
    newest = int((timezone.now() - timedelta(hours=2)).timestamp())
    WebhookEvent.objects.create(
        stripe_event_id="evt_old",
        relationship="account",
        account=connected,
        type="customer.created",
        created=newest,
        payload={},
        received_at=timezone.now(),
        status="processed",
    )
    second = backfill.webhook_events_backfill(relationship="account", account_id=connected.pk)
    assert int(second.since.timestamp()) == newest - 60


def test_a_staff_run_over_an_older_range_leaves_the_watermark(connected):
    through = timezone.now() - timedelta(minutes=5)
    WebhookBackfill.objects.create(relationship="account", account=connected, checked_through=through)
    older = timezone.now() - timedelta(days=3)

    result = backfill.webhook_events_backfill(
        relationship="account", account_id=connected.pk, since=older - timedelta(days=1), until=older
    )

    assert result.until == older
    assert WebhookBackfill.objects.get(account=connected).checked_through == through


def test_stripe_failing_is_retried_and_a_failed_run_leaves_the_watermark(
    connected, as_account, stripe_server, django_capture_on_commit_callbacks
):
    as_account.post("/v1/customers", email="retried@example.com")
    through = timezone.now() - timedelta(minutes=30)
    WebhookBackfill.objects.create(relationship="account", account=connected, checked_through=through)

    stripe_server.fail_next("/v1/events", status=500, count=1)
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises, the state must say it
        backfill.webhook_events_backfill(relationship="account", account_id=connected.pk)
    state = WebhookBackfill.objects.get(account=connected)
    assert state.checked_through == through and "StripeUnavailable" in state.last_error

    # The task retries Stripe's 5xx (eager: in place) and completes.
    stripe_server.fail_next("/v1/events", status=500, count=1)
    result = run(connected, django_capture_on_commit_callbacks)
    assert result["fed"] >= 1
    assert WebhookBackfill.objects.get(account=connected).last_error == ""


def test_a_source_that_cannot_be_read_is_reported_not_retried(account, stripe_api_base):
    connect(account, secret_key=TEST_SECRET_KEY).delete()  # disconnected: the row is gone
    result = backfill_webhook_source.delay("account", str(account.pk)).get()
    assert "no Stripe connection" in result["error"]


def test_the_platform_is_a_source_of_its_own(connected, stripe_api_base, settings, django_capture_on_commit_callbacks):
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    platform = Stripe(stripe_api_base)  # no Stripe-Account: the platform's own objects
    ours = platform.post("/v1/customers", email="account-as-our-customer@example.com")
    theirs = Stripe(stripe_api_base, stripe_account=CONNECTED).post("/v1/customers", email="theirs@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        result = backfill_webhook_source.delay("platform").get()

    assert result["fed"] >= 1
    platform_events = WebhookEvent.objects.filter(relationship="platform")
    assert ours["id"] in set(platform_events.values_list("object_id", flat=True))
    assert theirs["id"] not in set(platform_events.values_list("object_id", flat=True))
    # A platform event never reaches an account's mirror.
    assert not Customer.objects.filter(stripe_id=ours["id"]).exists()


def test_the_hourly_beat_queues_one_task_per_source(connected, settings, django_capture_on_commit_callbacks):
    other_account = AccountFactory()
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    connect(other_account, secret_key=TEST_SECRET_KEY, stripe_user_id="acct_1Other")
    other_account.stripe_connection.status = "disconnected"
    other_account.stripe_connection.save(update_fields=["status"])
    assert backfill.backfill_sources() == [("platform", None), ("account", str(connected.pk))]

    with django_capture_on_commit_callbacks(execute=True):
        assert backfill_webhook_events.delay().get() == 2
    assert set(WebhookBackfill.objects.values_list("relationship", "account")) == {
        ("platform", None),
        ("account", connected.pk),
    }
    schedule = PeriodicTask.objects.get(task="billing.backfill_webhook_events")
    assert schedule.enabled and (schedule.interval.every, schedule.interval.period) == (1, "hours")


def backfill_staff(*, ops: bool):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    perms = ["view_webhookbackfill"] + (["billing_admin_ops"] if ops else [])
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    browser = Client()
    browser.force_login(user)
    return browser


RUN = "/admin/billing/webhookbackfill/run/"


def test_staff_backfill_one_account_over_a_time_range_from_the_admin(
    connected, as_account, django_capture_on_commit_callbacks
):
    created = as_account.post("/v1/customers", email="from-the-admin@example.com")
    browser = backfill_staff(ops=True)
    assert "Backfill a time range" in browser.get("/admin/billing/webhookbackfill/").content.decode()
    page = browser.get(RUN).content.decode()
    assert str(connected.pk) in page and "The platform" in page

    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(RUN, {"source": str(connected.pk), "since": since, "until": ""})

    assert response.status_code == 302
    assert Customer.objects.filter(account=connected, stripe_id=created["id"]).exists()
    state = WebhookBackfill.objects.get(account=connected)
    listing = browser.get("/admin/billing/webhookbackfill/").content.decode()
    assert state.last_fed >= 1 and str(state.last_fed) in listing


def test_the_admin_refuses_a_range_stripe_no_longer_keeps_and_staff_without_the_permission(connected):
    browser = backfill_staff(ops=True)
    too_old = (timezone.now() - timedelta(days=40)).strftime("%Y-%m-%d %H:%M:%S")
    page = browser.post(RUN, {"source": str(connected.pk), "since": too_old}).content.decode()
    assert "Stripe keeps events 30 days" in page
    assert not WebhookBackfill.objects.exists()

    without = backfill_staff(ops=False)
    assert "Backfill a time range" not in without.get("/admin/billing/webhookbackfill/").content.decode()
    response = without.post(RUN, {"source": str(connected.pk), "since": too_old})
    assert response.status_code == 302 and not WebhookBackfill.objects.exists()
