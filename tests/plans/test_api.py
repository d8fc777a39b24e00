"""plans' API against the local Stripe: staff create plans (product and prices in the platform's Stripe) and bump
them; an account reads its subscription, goes to checkout, and gets clear 4xx for what it cannot do."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from plans.models import AccountSubscription, Plan, PlanVersion
from tests.billing.stripe_seed import Stripe
from tests.conftest import PASSWORD, token_for
from tests.factories import MembershipFactory, UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY

pytestmark = pytest.mark.django_db
PLANS_URL = "/api/v1/admin/billing/plans/"
SUBSCRIPTION_URL = "/api/v1/account/subscription/"
PRO = {
    "slug": "pro",
    "name": "Pro",
    "weekly_quota": 10_000,
    "ratios": {"gpu": "2.5", "default": "1"},
    "prices": [
        {"interval": "month", "amount": 2900, "currency": "usd"},
        {"interval": "year", "amount": 29000, "currency": "USD"},
    ],
}


@pytest.fixture
def platform(settings, stripe_api_base):
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


@pytest.fixture
def staff_api(db):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="billing_admin_ops"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def member_client(account, role):
    user = UserFactory(password=PASSWORD)
    MembershipFactory(user=user, account=account, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    return client


def test_staff_create_a_plan_with_its_product_and_prices_in_the_platforms_stripe(platform, staff_api):
    response = staff_api.post(PLANS_URL, PRO, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["slug"], body["versions"][0]["version"], body["versions"][0]["active"]) == ("pro", 1, True)
    version = PlanVersion.objects.get(plan__slug="pro")
    month = platform.get(f"/v1/prices/{version.stripe_price_month}")
    year = platform.get(f"/v1/prices/{version.stripe_price_year}")
    assert (month["unit_amount"], month["recurring"]["interval"], month["product"]) == (
        2900,
        "month",
        body["stripe_product_id"],
    )
    assert (year["unit_amount"], year["currency"]) == (29000, "usd")
    assert version.ratios == {"gpu": "2.5", "default": "1"}

    listed = staff_api.get(PLANS_URL).json()["results"]
    assert {plan["slug"] for plan in listed} == {"free", "pro"}


def test_a_slug_in_use_is_a_409_and_bad_ratios_a_400_with_nothing_written(platform, staff_api):
    assert staff_api.post(PLANS_URL, PRO, format="json").status_code == 201
    again = staff_api.post(PLANS_URL, PRO, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "plan_exists")

    bad = staff_api.post(PLANS_URL, {**PRO, "slug": "gpu", "ratios": {"gpu": "-1"}}, format="json")
    assert bad.status_code == 400 and "gpu" in bad.json()["error"]["message"]
    unknown = staff_api.post(PLANS_URL, {**PRO, "slug": "x", "colour": "red"}, format="json")
    assert unknown.status_code == 400
    assert not Plan.objects.filter(slug__in=["gpu", "x"]).exists()
    assert len(platform.list_all("/v1/products")) == 1


def test_staff_bump_a_version_through_the_api(platform, staff_api):
    staff_api.post(PLANS_URL, PRO, format="json")
    response = staff_api.post(f"{PLANS_URL}pro/versions/", {"weekly_quota": 20_000}, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["version"], response.json()["weekly_quota"]) == (2, 20_000)
    assert list(PlanVersion.objects.filter(plan__slug="pro", active=True).values_list("version", flat=True)) == [2]
    assert staff_api.post(f"{PLANS_URL}nope/versions/", {}, format="json").status_code == 404


def test_only_billing_staff_reach_the_plans_api(api, db):
    assert api.get(PLANS_URL).status_code in (401, 403)
    plain_staff = APIClient()
    plain_staff.force_authenticate(UserFactory(is_staff=True))
    assert plain_staff.get(PLANS_URL).status_code == 403


def test_any_member_reads_the_subscription(account, db):
    response = member_client(account, "member").get(SUBSCRIPTION_URL)
    assert response.status_code == 200
    body = response.json()
    assert (body["plan"], body["status"], body["cancel_at_period_end"]) == (
        {"slug": "free", "name": "Free"},
        "active",
        False,
    )
    assert body["usage"] == "/api/v1/metering/usage/"


def test_checkout_returns_a_stripe_checkout_url_for_the_plan(account, api, platform, staff_api):
    staff_api.post(PLANS_URL, PRO, format="json")
    response = api.post(f"{SUBSCRIPTION_URL}checkout/", {"plan": "pro", "interval": "year"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    session = platform.get(f"/v1/checkout/sessions/{body['session_id']}")
    assert body["url"] == session["url"] and session["mode"] == "subscription"
    assert session["metadata"] == {"kind": "plan", "account_id": str(account.pk), "plan": "pro"}
    customer_id = AccountSubscription.objects.get(account=account).stripe_customer_id
    assert session["customer"] == customer_id
    assert platform.get(f"/v1/customers/{customer_id}")["metadata"] == {"account_id": str(account.pk)}

    # A second checkout reuses the customer.
    api.post(f"{SUBSCRIPTION_URL}checkout/", {"plan": "pro"}, format="json")
    assert len(platform.list_all("/v1/customers")) == 1


def test_checkout_for_an_unknown_plan_is_a_400_naming_it(account, api, platform):
    response = api.post(f"{SUBSCRIPTION_URL}checkout/", {"plan": "platinum"}, format="json")
    assert response.status_code == 400
    assert "platinum" in response.json()["error"]["message"]
    free = api.post(f"{SUBSCRIPTION_URL}checkout/", {"plan": "free"}, format="json")
    assert (free.status_code, free.json()["error"]["code"]) == (400, "plan_not_purchasable")
    assert AccountSubscription.objects.get(account=account).stripe_customer_id == ""


def test_a_plain_member_cannot_go_to_checkout_or_change(account, db):
    member = member_client(account, "member")
    for action in ("checkout/", "change/", "cancel/", "resume/"):
        assert member.post(f"{SUBSCRIPTION_URL}{action}", {"plan": "pro"}, format="json").status_code == 403


def test_change_and_cancel_without_a_paid_subscription_are_409(account, api, platform):
    change = api.post(f"{SUBSCRIPTION_URL}change/", {"plan": "free"}, format="json")
    assert change.status_code in (400, 409)
    cancel = api.post(f"{SUBSCRIPTION_URL}cancel/", format="json")
    assert (cancel.status_code, cancel.json()["error"]["code"]) == (409, "no_subscription")


def test_invoices_of_an_account_without_a_platform_customer_are_empty(api, platform):
    response = api.get(f"{SUBSCRIPTION_URL}invoices/")
    assert response.status_code == 200 and response.json()["results"] == []
