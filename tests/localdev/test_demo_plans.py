"""The demo's `pro` plan (localdev/demo_plans.py): its product and prices in the local Stripe's platform account,
made again (as the plan's next version) when a fresh local Stripe no longer holds them; and the demo account can
subscribe to it from the hosted checkout page."""

import pytest

from localdev.demo_plans import ensure_pro_plan
from plans.models import PlanVersion
from plans.services.account_plan import subscription_checkout_create
from tests.billing.stripe_seed import Stripe

pytestmark = pytest.mark.django_db


def test_pro_is_created_once_and_again_after_the_local_stripe_forgot_it(stripe_api_base, stripe_server, account):
    first = ensure_pro_plan()
    assert ensure_pro_plan().pk == first.pk
    assert Stripe(stripe_api_base).get(f"/v1/prices/{first.stripe_price_month}")["unit_amount"] == 2900

    stripe_server.reset()  # a new run of the development stack
    second = ensure_pro_plan()
    assert (second.version, second.active) == (2, True)
    assert second.stripe_price_month != first.stripe_price_month
    assert list(PlanVersion.objects.filter(plan__slug="pro", active=True)) == [second]

    session = subscription_checkout_create(account=account, plan_slug="pro")
    assert session["url"].endswith(f"/checkout/{session['session_id']}")
