"""Webhook events in the admin: read-only evidence, filterable, with replay and purge-dead-letters actions for
staff holding billing_admin_ops."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from billing.models import Customer, WebhookEvent
from tests.billing.stripe_seed import Stripe
from tests.factories import UserFactory
from tests.helpers.handlers import RecordingHandler, registered
from tests.helpers.webhooks import connect, stored_event

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status
TYPE = "zz_test.admin.updated"
CHANGELIST = "/admin/billing/webhookevent/"


def staff(*, ops: bool) -> Client:
    user = UserFactory(is_staff=True)
    perms = ["view_webhookevent"] + (["billing_admin_ops"] if ops else [])
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    browser = Client()
    browser.force_login(user)
    return browser


def event(account, event_id: str, status: str) -> WebhookEvent:
    return stored_event(
        account,
        event_id,
        event_type=TYPE,
        obj={"id": "obj_1"},
        status=status,
        attempts=5 if status == Status.DEAD else 1,
    )


def test_events_are_listed_filtered_and_shown_read_only(account):
    dead = event(account, "evt_dead", Status.DEAD)
    event(account, "evt_done", Status.PROCESSED)
    browser = staff(ops=False)

    filtered = browser.get(CHANGELIST, {"status__exact": "dead"}).content.decode()
    assert "evt_dead" in filtered and "evt_done" not in filtered
    assert browser.get(CHANGELIST, {"relationship__exact": "platform"}).status_code == 200

    page = browser.get(f"{CHANGELIST}{dead.pk}/change/").content.decode()
    assert "evt_dead" in page and "obj_1" in page and 'name="_save"' not in page
    assert browser.post(f"{CHANGELIST}{dead.pk}/change/", {"status": "pending"}).status_code == 403


def test_the_actions_need_billing_admin_ops(account):
    event(account, "evt_dead", Status.DEAD)
    without = staff(ops=False).get(CHANGELIST).content.decode()
    with_ops = staff(ops=True).get(CHANGELIST).content.decode()
    assert "purge_dead_letters" not in without and "replay_events" not in without
    assert "purge_dead_letters" in with_ops and "replay_events" in with_ops
    assert "delete_selected" not in with_ops  # only dead letters may go, through the purge


def test_purge_deletes_the_selected_dead_letters_only(account):
    dead, done = event(account, "evt_dead", Status.DEAD), event(account, "evt_done", Status.PROCESSED)
    response = staff(ops=True).post(
        CHANGELIST, {"action": "purge_dead_letters", "_selected_action": [dead.pk, done.pk]}, follow=True
    )
    assert response.status_code == 200
    assert list(WebhookEvent.objects.values_list("stripe_event_id", flat=True)) == ["evt_done"]


ACCOUNT_KEY = "sk_test_51ReplayAccountOwnKey00000000000000000000"
PLATFORM_KEY = "sk_test_51ReplayPlatformKey000000000000000000000"
CONNECTED = "acct_1ReplayConnected"


def created_event(stripe: Stripe, customer_id: str) -> dict:
    """The `customer.created` event the local Stripe recorded for this customer, as its owner sees it."""
    events = stripe.get("/v1/events", type="customer.created")["data"]
    return next(e for e in events if e["data"]["object"]["id"] == customer_id)


def dead_letter(account, fresh: dict, **fields) -> WebhookEvent:
    """What we hold of a Stripe event: a dead letter whose stored copy is stale (no email)."""
    obj = {"id": fresh["data"]["object"]["id"], "object": "customer"}
    return stored_event(
        account, fresh["id"], event_type="customer.created", obj=obj, status=Status.DEAD, attempts=5, **fields
    )


def test_replay_fetches_each_event_from_its_own_stripe_with_its_own_key(
    account, stripe_server, stripe_api_base, settings, django_capture_on_commit_callbacks
):
    """Replay against the local Stripe, which keeps each account's events to itself (Stripe-Account) and refuses
    a revoked key: an account's event is fetched with the account's credentials, a platform event with the
    platform's. With one of the two keys revoked, exactly the events of that key's relationship fail."""
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_SECRET_KEY = PLATFORM_KEY
    connect(account, secret_key=ACCOUNT_KEY, stripe_user_id=CONNECTED)
    as_account = Stripe(stripe_api_base, key=ACCOUNT_KEY, stripe_account=CONNECTED)
    as_platform = Stripe(stripe_api_base, key=PLATFORM_KEY)
    account_fresh = created_event(as_account, as_account.post("/v1/customers", email="own@example.com")["id"])
    platform_fresh = created_event(as_platform, as_platform.post("/v1/customers", email="ours@example.com")["id"])
    account_row = dead_letter(account, account_fresh)
    platform_row = dead_letter(None, platform_fresh, relationship="platform")
    browser = staff(ops=True)

    def replay() -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = browser.post(
                CHANGELIST,
                {"action": "replay_events", "_selected_action": [account_row.pk, platform_row.pk]},
                follow=True,
            )
        assert response.status_code == 200
        return response.content.decode()

    with registered("platform", "customer.created", RecordingHandler()) as platform_handler:
        stripe_server.revoke_key(PLATFORM_KEY)
        page = replay()
        # Queued as tasks (eager here, run after the request's commit): the page only says so.
        assert "2 replay(s) queued" in page
        platform_row.refresh_from_db()
        assert platform_row.status == Status.DEAD
        assert platform_row.last_error.startswith("Replay failed: Stripe refused the credentials")
        account_row.refresh_from_db()
        assert account_row.status == Status.PROCESSED and account_row.payload == account_fresh  # Stripe's copy
        assert Customer.objects.get(account=account, stripe_id=account_fresh["data"]["object"]["id"]).email == (
            "own@example.com"
        )
        assert platform_handler.calls == []

        stripe_server.clear_revoked_keys()
        stripe_server.revoke_key(ACCOUNT_KEY)
        page = replay()
        assert "2 replay(s) queued" in page
        account_row.refresh_from_db()
        assert account_row.last_error.startswith("Replay failed: Stripe refused the credentials")
        platform_row.refresh_from_db()
        assert platform_row.status == Status.PROCESSED and platform_row.payload == platform_fresh
        assert platform_handler.calls == [platform_fresh["id"]]


def test_a_queued_replay_retries_stripe_being_unavailable(
    account, stripe_server, stripe_api_base, settings, django_capture_on_commit_callbacks
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    connect(account, secret_key=ACCOUNT_KEY, stripe_user_id=CONNECTED)
    as_account = Stripe(stripe_api_base, key=ACCOUNT_KEY, stripe_account=CONNECTED)
    fresh = created_event(as_account, as_account.post("/v1/customers", email="retried@example.com")["id"])
    row = dead_letter(account, fresh)
    stripe_server.fail_next("/v1/events", status=503, count=2)

    with django_capture_on_commit_callbacks(execute=True):
        staff(ops=True).post(CHANGELIST, {"action": "replay_events", "_selected_action": [row.pk]})

    row.refresh_from_db()
    assert (row.status, row.last_error) == (Status.PROCESSED, "")
    assert stripe_server.faults() == []  # both injected failures were met, then the third call went through
