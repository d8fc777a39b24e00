"""The staff toolkit on our billing of accounts (issue 16) against the local Stripe, faults injected where Stripe
must fail: the customer beside Stripe's, force sync, verified cancel, refunds of platform charges."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from plans.models import AccountSubscription, PlatformRefund
from plans.services.account_plan import subscription_checkout_create
from plans.services.catalog import plan_create
from tests.billing.stripe_seed import Stripe
from tests.factories import UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.threads import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)
BASE = "/api/v1/admin/billing/"
MONTH = [{"interval": "month", "amount": 2900, "currency": "usd"}]


@pytest.fixture
def platform(settings, stripe_api_base):
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


def staff_client(user=None) -> APIClient:
    user = user or UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="billing_admin_ops"))
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def staff(db):
    return staff_client()


@pytest.fixture
def subscribed(account, platform, stripe_server, deliver_platform):
    """The account on pro through a paid checkout in the local Stripe, brought back by the platform's webhook."""
    plan_create(slug="pro", name="Pro", weekly_quota=10_000, prices=MONTH)
    plan_create(slug="team", name="Team", weekly_quota=50_000, prices=MONTH)
    session = subscription_checkout_create(account=account, plan_slug="pro")
    completed = stripe_server.complete_checkout(session["session_id"])
    deliver_platform("checkout.session.completed", completed, created=completed["created"])
    row = AccountSubscription.objects.get(account=account)
    assert (row.plan.slug, row.status) == ("pro", "active")
    return row


def row(account) -> AccountSubscription:
    return AccountSubscription.objects.select_related("plan").get(account=account)


def plant_team_price(platform, subscribed) -> str:
    """Stripe moves the subscription to team behind our back (no webhook delivered)."""
    team_price = row(subscribed.account).plan.versions.model.objects.get(plan__slug="team").stripe_price_month
    live = platform.get(f"/v1/subscriptions/{subscribed.stripe_subscription_id}")
    platform.post(
        f"/v1/subscriptions/{subscribed.stripe_subscription_id}",
        items=[{"id": live["items"]["data"][0]["id"], "price": team_price}],
    )
    return team_price


# --- who may ------------------------------------------------------------------------------------------------


def test_others_are_403_and_anonymous_401(account, platform):
    url = f"{BASE}customer/{account.pk}/"
    assert APIClient().get(url).status_code == 401
    plain_staff = APIClient()
    plain_staff.force_authenticate(UserFactory(is_staff=True))
    assert plain_staff.get(url).status_code == 403
    assert plain_staff.post(f"{BASE}refunds/", {}, format="json").status_code == 403


# --- customer -----------------------------------------------------------------------------------------------


def test_customer_shows_ours_beside_stripes_and_what_differs(staff, subscribed, platform):
    same = staff.get(f"{BASE}customer/{subscribed.account_id}/")
    assert same.status_code == 200, same.content
    body = same.json()
    assert body["differs"] == [] and body["ours"]["plan"] == "pro" and body["stripe"]["plan"] == "pro"
    assert body["stripe"]["customer"]["id"] == subscribed.stripe_customer_id

    plant_team_price(platform, subscribed)
    body = staff.get(f"{BASE}customer/{subscribed.account_id}/").json()
    assert body["differs"] == ["plan"] and (body["ours"]["plan"], body["stripe"]["plan"]) == ("pro", "team")


def test_customer_with_stripe_down_is_our_side_and_an_error(staff, subscribed, stripe_server):
    stripe_server.fail_next(f"/v1/customers/{subscribed.stripe_customer_id}", 500)
    response = staff.get(f"{BASE}customer/{subscribed.account_id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["ours"]["plan"] == "pro" and body["stripe"] is None
    assert body["error"]["code"] == "stripe_unavailable"


def test_unknown_account_is_a_404(staff, db):
    for method, path in (("get", "customer"), ("post", "sync"), ("post", "cancel")):
        response = getattr(staff, method)(f"{BASE}{path}/00000000-0000-0000-0000-000000000000/")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "account_not_found")


# --- sync ---------------------------------------------------------------------------------------------------


def test_sync_brings_stripes_plan_and_answers_previous_and_updated(staff, subscribed, platform):
    plant_team_price(platform, subscribed)
    response = staff.post(f"{BASE}sync/{subscribed.account_id}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["previous"]["plan"], body["updated"]["plan"]) == ("pro", "team")
    assert row(subscribed.account).plan.slug == "team"


def test_sync_to_a_price_of_no_plan_is_a_409_and_changes_nothing(staff, subscribed, platform):
    product = platform.post("/v1/products", name="Stray")
    stray = platform.post(
        "/v1/prices", product=product["id"], unit_amount=100, currency="usd", recurring={"interval": "month"}
    )
    live = platform.get(f"/v1/subscriptions/{subscribed.stripe_subscription_id}")
    platform.post(
        f"/v1/subscriptions/{subscribed.stripe_subscription_id}",
        items=[{"id": live["items"]["data"][0]["id"], "price": stray["id"]}],
    )
    before = row(subscribed.account)

    response = staff.post(f"{BASE}sync/{subscribed.account_id}/")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "unknown_price")
    after = row(subscribed.account)
    assert (after.plan.slug, after.unknown_price_id, after.updated_at) == ("pro", "", before.updated_at)


def test_sync_without_a_subscription_is_a_409_and_stripe_down_a_502(staff, account, subscribed, stripe_server):
    stripe_server.fail_next(f"/v1/subscriptions/{subscribed.stripe_subscription_id}", 500)
    down = staff.post(f"{BASE}sync/{subscribed.account_id}/")
    assert (down.status_code, down.json()["error"]["code"]) == (502, "stripe_unavailable")

    AccountSubscription.objects.filter(pk=subscribed.pk).update(stripe_subscription_id="")
    none = staff.post(f"{BASE}sync/{subscribed.account_id}/")
    assert (none.status_code, none.json()["error"]["code"]) == (409, "no_subscription")


# --- cancel -------------------------------------------------------------------------------------------------


def test_cancel_cancels_in_stripe_verifies_then_writes(staff, subscribed, platform):
    subscription_id = subscribed.stripe_subscription_id
    response = staff.post(f"{BASE}cancel/{subscribed.account_id}/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stripe_status"] == "canceled"
    assert (body["previous"]["plan"], body["updated"]["plan"]) == ("pro", "free")
    assert platform.get(f"/v1/subscriptions/{subscription_id}")["status"] == "canceled"
    current = row(subscribed.account)
    assert (current.plan.slug, current.stripe_subscription_id) == ("free", "")


@pytest.mark.parametrize("step", ["delete", "verify"])
def test_cancel_not_verified_is_a_502_and_the_db_untouched(staff, subscribed, stripe_server, step):
    before = row(subscribed.account)
    path = f"/v1/subscriptions/{subscribed.stripe_subscription_id}"
    if step == "delete":
        stripe_server.fail_next(path, 500, method="DELETE")
    else:
        # Canceled in Stripe, but the retrieval that verifies it fails: nothing is written on a guess.
        stripe_server.fail_next(path, 503, method="GET")
    response = staff.post(f"{BASE}cancel/{subscribed.account_id}/")
    assert response.status_code == 502, response.content
    after = row(subscribed.account)
    assert (after.plan.slug, after.status, after.updated_at) == ("pro", "active", before.updated_at)


# --- refunds ------------------------------------------------------------------------------------------------


def platform_charge(platform, amount: int = 1000) -> str:
    intent = platform.post(
        "/v1/payment_intents", amount=amount, currency="usd", payment_method="pm_card_visa", confirm=True
    )
    latest = intent["latest_charge"]
    return latest if isinstance(latest, str) else latest["id"]


def failed_charge(platform) -> str:
    """A declined payment's charge: nothing left to refund as far as amounts go, yet Stripe refuses to refund it."""
    try:
        platform.post(
            "/v1/payment_intents", amount=500, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True
        )
    except Exception:  # the SDK raises the decline; the failed charge stays in Stripe
        pass
    return next(c["id"] for c in platform.list_all("/v1/charges") if c["status"] == "failed")


def refund(client, charge_id, request_id="refund-0001", **fields):
    return client.post(
        f"{BASE}refunds/",
        {"charge_id": charge_id, "reason": "requested_by_customer", "refund_request_id": request_id, **fields},
        format="json",
    )


def test_partial_refunds_add_up_recorded_with_who_and_why(platform, db):
    user = UserFactory(is_staff=True, username="ops-ann")
    client = staff_client(user)
    charge_id = platform_charge(platform, 1000)

    first = refund(client, charge_id, "refund-0001", amount=300)
    assert first.status_code == 201, first.content
    assert (first.json()["refunded_amount"], first.json()["requested_by"]) == (300, "ops-ann")
    assert refund(client, charge_id, "refund-0002", amount=700).status_code == 201
    assert platform.get(f"/v1/charges/{charge_id}")["amount_refunded"] == 1000

    full = refund(client, charge_id, "refund-0003", amount=1)
    assert (full.status_code, full.json()["error"]["code"]) == (422, "charge_already_refunded")
    rows = PlatformRefund.objects.order_by("created_at")
    assert [(r.status, r.requested_by_id, r.reason) for r in rows] == [
        ("succeeded", user.pk, "requested_by_customer"),
        ("succeeded", user.pk, "requested_by_customer"),
        ("failed", user.pk, "requested_by_customer"),
    ]


def test_more_than_what_is_left_is_a_422_and_the_same_id_twice_refunds_once(staff, platform):
    charge_id = platform_charge(platform, 1000)
    too_much = refund(staff, charge_id, "refund-big1", amount=1001)
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (422, "refund_exceeds_remaining")
    assert too_much.json()["error"]["details"]["remaining"] == 1000

    once = refund(staff, charge_id, "refund-same", amount=200)
    twice = refund(staff, charge_id, "refund-same", amount=200)
    assert (once.status_code, twice.status_code) == (201, 200)
    assert once.json()["refund_stripe_id"] == twice.json()["refund_stripe_id"]
    assert len(platform.list_all("/v1/refunds", charge=charge_id)) == 1


def test_stripe_refusing_is_a_422_with_its_message_and_down_a_502_then_the_id_retries(staff, platform, stripe_server):
    charge_id = platform_charge(platform, 1000)
    refused = refund(staff, failed_charge(platform), "refund-refused")
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "stripe_rejected")
    assert "Cannot refund a failed payment" in refused.json()["error"]["message"]

    stripe_server.fail_next("/v1/refunds", 500)
    down = refund(staff, charge_id, "refund-down01", amount=100)
    assert (down.status_code, down.json()["error"]["code"]) == (502, "stripe_unavailable")
    assert PlatformRefund.objects.get(request_id="refund-down01").status == "failed"
    again = refund(staff, charge_id, "refund-down01", amount=100)
    assert again.status_code == 201 and again.json()["status"] == "succeeded"  # this retry made it
    assert len(platform.list_all("/v1/refunds", charge=charge_id)) == 1


def test_bad_bodies_are_400s_and_an_unknown_charge_a_404(staff, platform):
    short = refund(staff, "ch_x", "short")
    assert short.status_code == 400 and "refund_request_id" in short.json()["error"]["message"]
    unknown = staff.post(
        f"{BASE}refunds/",
        {"charge_id": "ch_x", "reason": "duplicate", "refund_request_id": "r" * 8, "x": 1},
        format="json",
    )
    assert unknown.status_code == 400
    missing = refund(staff, "ch_nothing", "refund-none1")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "charge_not_found")


@pytest.mark.postgres
def test_the_same_refund_request_id_at_once_refunds_once(requires_postgres, platform, db):
    charge_id = platform_charge(platform, 1000)
    clients = [staff_client() for _ in range(6)]

    responses = run_concurrently(lambda i: refund(clients[i], charge_id, "refund-at-once", amount=100), 6)

    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
    assert len(platform.list_all("/v1/refunds", charge=charge_id)) == 1
    assert PlatformRefund.objects.get().status == "succeeded"
