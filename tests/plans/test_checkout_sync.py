"""A completed checkout (SPEC §7): the handler queues a task that retrieves the real subscription from the platform's
Stripe and applies it with the stamp of the checkout event (docs/plans.md, "Ordering"); the customer made once is
made again with a new idempotency key after `customer.deleted`."""

import pytest

from plans.models import AccountSubscription
from plans.services.account_plan import subscription_checkout_create
from plans.services.catalog import plan_create
from plans.services.platform_customer import platform_customer_ensure
from tests.billing.stripe_objects import today
from tests.billing.stripe_seed import Stripe
from tests.harness.stripe_fixtures import TEST_SECRET_KEY

pytestmark = pytest.mark.django_db
MONTH = [{"interval": "month", "amount": 2900, "currency": "usd"}]


@pytest.fixture
def platform(settings, stripe_api_base):
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


@pytest.fixture
def completed(account, platform, stripe_server):
    """A pro checkout of the account, paid in the local Stripe (no webhook registered: the test delivers)."""
    plan_create(slug="pro", name="Pro", weekly_quota=10_000, prices=MONTH)
    session = subscription_checkout_create(account=account, plan_slug="pro")
    return stripe_server.complete_checkout(session["session_id"])


def row(account) -> AccountSubscription:
    return AccountSubscription.objects.select_related("plan").get(account=account)


def test_the_checkout_event_brings_the_real_subscription_from_stripe(account, completed, deliver_platform):
    event = deliver_platform("checkout.session.completed", completed, created=completed["created"])

    current = row(account)
    assert (current.plan.slug, current.status) == ("pro", "active")
    assert current.stripe_subscription_id == completed["subscription"]
    assert current.current_period_end is not None  # from the retrieved subscription, not the session
    assert (current.last_subscription_event_id, int(current.last_subscription_event_created.timestamp())) == (
        event.stripe_event_id,
        completed["created"],
    )

    # A subscription event older than the checkout, delivered late, changes nothing.
    stale = today("subscription", id=completed["subscription"], customer=completed["customer"], status="incomplete")
    deliver_platform("customer.subscription.created", stale, created=completed["created"] - 5)
    assert row(account).status == "active"


def test_a_newer_subscription_event_applied_first_stands_over_the_checkouts_retrieval(
    account, completed, deliver_platform, platform
):
    live = platform.get(f"/v1/subscriptions/{completed['subscription']}")
    newer = {**live, "cancel_at_period_end": True}
    deliver_platform("customer.subscription.updated", newer, created=completed["created"] + 60)
    deliver_platform("checkout.session.completed", completed, created=completed["created"])

    assert row(account).cancel_at_period_end is True  # the retrieval (not cancelling) did not overwrite it


def test_a_session_of_no_account_is_recorded_and_ignored(account, completed, deliver_platform):
    foreign = {**completed, "customer": "cus_stranger", "metadata": {"kind": "plan"}, "client_reference_id": None}
    event = deliver_platform("checkout.session.completed", foreign, created=completed["created"])
    assert event.status == "processed"
    assert row(account).plan.slug == "free"


def test_after_customer_deleted_a_new_customer_is_created(account, platform, deliver_platform):
    first = platform_customer_ensure(account=account)
    assert platform_customer_ensure(account=account) == first
    deliver_platform("customer.deleted", today("customer", id=first), created=1_790_000_000)
    assert row(account).stripe_customer_id == ""

    second = platform_customer_ensure(account=account)
    assert second != first  # the same idempotency key would have answered the deleted customer
    assert platform.get(f"/v1/customers/{second}")["metadata"] == {"account_id": str(account.pk)}


def test_an_invoice_of_another_subscription_of_the_customer_changes_nothing(account, completed, deliver_platform):
    deliver_platform("checkout.session.completed", completed, created=completed["created"])
    old = today("invoice", customer=completed["customer"])
    old["parent"]["subscription_details"]["subscription"] = "sub_ended_long_ago"
    deliver_platform("invoice.payment_failed", old, created=completed["created"] + 10)
    assert (row(account).status, row(account).past_due_since) == ("active", None)
