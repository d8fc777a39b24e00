"""The platform's webhook handlers (SPEC §7): signed deliveries on the platform endpoint move the account's
AccountSubscription; events apply only when newer than the last of their family; an unknown price never
downgrades; an account's own Stripe never touches its subscription with us."""

import logging

import pytest

from billing.models import WebhookEvent
from plans.hooks import on_plan_change, remove_plan_change_hook
from plans.models import AccountSubscription
from tests.billing.stripe_objects import localstripe, today
from tests.helpers.notifications import record_notifications
from tests.helpers.webhooks import connect
from tests.plans.conftest import CUSTOMER, PRO_MONTH, SUBSCRIPTION, TEAM_MONTH

pytestmark = pytest.mark.django_db
T0 = 1_790_000_000
Status = AccountSubscription.Status


def subscription(price=PRO_MONTH, **changes) -> dict:
    obj = today("subscription", **changes)
    obj["items"]["data"][0]["price"]["id"] = price
    return obj


def invoice(**changes) -> dict:
    obj = today("invoice", **changes)
    obj["parent"]["subscription_details"]["subscription"] = SUBSCRIPTION
    return obj


def row(account) -> AccountSubscription:
    return AccountSubscription.objects.select_related("plan", "plan_version").get(account=account)


@pytest.fixture
def plan_changes():
    seen = []

    def hook(*, subscription, previous_version, new_version):
        seen.append((previous_version.plan.slug, new_version.plan.slug))

    on_plan_change(hook)
    yield seen
    remove_plan_change_hook(hook)


def test_a_subscription_event_puts_the_account_on_the_plan_of_its_price(
    account, pro, our_customer, deliver_platform, plan_changes, monkeypatch
):
    sent = record_notifications(monkeypatch)
    event = deliver_platform("customer.subscription.created", subscription(), created=T0)

    current = row(account)
    assert event.status == WebhookEvent.Status.PROCESSED
    assert (current.plan.slug, current.plan_version_id, current.status) == ("pro", pro.pk, "active")
    assert current.stripe_subscription_id == SUBSCRIPTION
    # Today's shape: the period is on the item.
    assert current.current_period_end.timestamp() == today("subscription")["items"]["data"][0]["current_period_end"]
    assert (current.last_subscription_event_id, int(current.last_subscription_event_created.timestamp())) == (
        event.stripe_event_id,
        T0,
    )
    assert plan_changes == [("free", "pro")]
    (data,) = sent.of("subscription_updated")
    assert data["plan"] == {"slug": "pro", "name": "Pro"} and data["status"] == "active"


def test_the_period_is_read_at_the_top_level_in_older_shapes(account, pro, deliver_platform):
    obj = localstripe("subscription", customer=CUSTOMER, metadata={"account_id": str(account.pk)})
    obj["items"]["data"][0]["plan"]["id"] = PRO_MONTH
    obj["items"]["data"][0].pop("price", None)
    deliver_platform("customer.subscription.created", obj, created=T0)

    current = row(account)
    assert current.plan.slug == "pro"
    assert current.current_period_end.timestamp() == obj["current_period_end"]
    assert current.stripe_customer_id == CUSTOMER  # found by the metadata, the customer id learnt


def test_an_older_subscription_event_arriving_late_leaves_the_newer_state(
    account, pro, team, our_customer, deliver_platform
):
    deliver_platform("customer.subscription.updated", subscription(TEAM_MONTH, status="past_due"), created=T0 + 10)
    late = deliver_platform("customer.subscription.updated", subscription(PRO_MONTH), created=T0)

    current = row(account)
    assert (current.plan.slug, current.status) == ("team", "past_due")
    assert late.status == WebhookEvent.Status.PROCESSED  # nothing to retry: it just changed nothing


def test_in_the_same_second_the_greater_event_id_wins(account, pro, team, our_customer, deliver_platform):
    deliver_platform("customer.subscription.updated", subscription(TEAM_MONTH), created=T0, event_id="evt_b")
    deliver_platform("customer.subscription.updated", subscription(PRO_MONTH), created=T0, event_id="evt_a")
    assert row(account).plan.slug == "team"
    deliver_platform("customer.subscription.updated", subscription(PRO_MONTH), created=T0, event_id="evt_c")
    assert row(account).plan.slug == "pro"


def test_out_of_order_invoice_events_leave_the_newest_state_and_past_due_since_stays_the_first_failure(
    account, pro, our_customer, deliver_platform
):
    deliver_platform("customer.subscription.created", subscription(), created=T0)
    deliver_platform("invoice.payment_failed", invoice(), created=T0 + 100)
    first = row(account)
    assert (first.status, int(first.past_due_since.timestamp())) == ("past_due", T0 + 100)

    deliver_platform("invoice.payment_failed", invoice(), created=T0 + 200)
    second = row(account)
    assert (second.status, second.past_due_since) == ("past_due", first.past_due_since)  # not moved

    # A success older than the last failure arrives late: nothing changes.
    deliver_platform("invoice.paid", invoice(), created=T0 + 150)
    assert row(account).status == "past_due"

    deliver_platform("invoice.payment_succeeded", invoice(), created=T0 + 300)
    cleared = row(account)
    assert (cleared.status, cleared.past_due_since) == ("active", None)

    # And the earlier failure, delivered once more, late: still active.
    deliver_platform("invoice.payment_failed", invoice(), created=T0 + 250)
    assert (row(account).status, row(account).past_due_since) == ("active", None)


def test_the_two_families_are_ordered_apart(account, pro, our_customer, deliver_platform):
    """An invoice event is compared with invoice events only: an old subscription stamp does not block it."""
    deliver_platform("customer.subscription.created", subscription(), created=T0 + 1000)
    deliver_platform("invoice.payment_failed", invoice(), created=T0)
    assert row(account).status == "past_due"


def test_an_unknown_price_keeps_the_paying_plan_and_reports_it(
    account, pro, our_customer, deliver_platform, caplog, plan_changes
):
    deliver_platform("customer.subscription.created", subscription(), created=T0)
    with caplog.at_level(logging.ERROR, logger="plans"):
        event = deliver_platform(
            "customer.subscription.updated", subscription("price_nobody_knows", status="active"), created=T0 + 10
        )

    current = row(account)
    assert event.status == WebhookEvent.Status.PROCESSED
    assert (current.plan.slug, current.plan_version_id) == ("pro", pro.pk)  # never a silent downgrade
    assert current.unknown_price_id == "price_nobody_knows"  # shown to staff in the admin
    assert any("price_nobody_knows" in record.getMessage() for record in caplog.records)
    assert plan_changes == [("free", "pro")]


def test_deletion_puts_the_account_back_on_the_default_plan(account, pro, our_customer, deliver_platform):
    deliver_platform("customer.subscription.created", subscription(), created=T0)
    deliver_platform("customer.subscription.deleted", subscription(status="canceled"), created=T0 + 10)

    current = row(account)
    assert (current.plan.slug, current.status, current.stripe_subscription_id) == ("free", "active", "")
    assert current.stripe_customer_id == CUSTOMER  # the customer stays: a new checkout reuses it


def test_customer_deleted_puts_the_account_on_the_default_plan_and_clears_the_stripe_ids(
    account, pro, our_customer, deliver_platform
):
    deliver_platform("customer.subscription.created", subscription(), created=T0)
    deliver_platform("customer.deleted", today("customer", id=CUSTOMER), created=T0 + 10)

    current = row(account)
    assert (current.plan.slug, current.stripe_customer_id, current.stripe_subscription_id) == ("free", "", "")


def test_an_event_about_a_customer_we_do_not_know_is_recorded_and_ignored(account, pro, deliver_platform, caplog):
    with caplog.at_level(logging.WARNING, logger="plans"):
        event = deliver_platform("customer.subscription.created", subscription(customer="cus_stranger"), created=T0)
    assert event.status == WebhookEvent.Status.PROCESSED and event.attempts == 1
    assert row(account).plan.slug == "free"
    assert any("cus_stranger" in record.getMessage() for record in caplog.records)


def test_a_subscription_of_the_accounts_own_customer_never_touches_its_subscription_with_us(
    account, pro, our_customer, deliver_account
):
    """The account's own Stripe (its endpoint, relationship=account): its customers' subscriptions and failed
    invoices are its business. Even with the same ids as its platform customer, nothing moves here."""
    connect(account)
    before = row(account)
    deliver_account(account, "customer.subscription.created", subscription(), created=T0)
    deliver_account(account, "invoice.payment_failed", invoice(), created=T0 + 1)
    deliver_account(account, "customer.deleted", today("customer", id=CUSTOMER), created=T0 + 2)

    after = row(account)
    assert (after.plan_version_id, after.status, after.past_due_since) == (before.plan_version_id, "active", None)
    assert (after.last_subscription_event_id, after.last_invoice_event_id) == ("", "")
    assert after.updated_at == before.updated_at


def test_a_checkout_of_another_kind_is_left_to_its_listeners(account, our_customer, deliver_platform):
    session = (
        today("checkout.session") if _has("checkout.session") else {"id": "cs_test_x", "object": "checkout.session"}
    )
    session.update(mode="payment", customer=CUSTOMER, subscription=None, metadata={"kind": "extras"})
    event = deliver_platform("checkout.session.completed", session, created=T0)
    assert event.status == WebhookEvent.Status.PROCESSED
    assert row(account).stripe_subscription_id == ""


def _has(name: str) -> bool:
    try:
        today(name)
    except KeyError:
        return False
    return True


def test_an_ended_earlier_subscription_of_the_customer_does_not_end_the_current_one(
    account, pro, our_customer, deliver_platform
):
    deliver_platform("customer.subscription.created", subscription(), created=T0)
    ended = subscription(id="sub_earlier", status="canceled")
    deliver_platform("customer.subscription.updated", ended, created=T0 + 10)
    deliver_platform("customer.subscription.deleted", ended, created=T0 + 11)

    current = row(account)
    assert (current.plan.slug, current.stripe_subscription_id, current.status) == ("pro", SUBSCRIPTION, "active")
