"""Every account is on the default plan from its creation on, without any Stripe call (SPEC §7)."""

import pytest

from accounts.services import account_create
from plans.models import AccountSubscription, Plan, PlanVersion
from plans.services.defaults import account_subscription_ensure

pytestmark = pytest.mark.django_db


def test_the_default_plan_exists_after_migrate(settings):
    version = PlanVersion.objects.select_related("plan").get(plan__slug=settings.PLANS_DEFAULT_SLUG, active=True)
    assert version.weekly_quota == settings.PLANS_DEFAULT_WEEKLY_QUOTA
    assert version.stripe_price_month == version.stripe_price_year == ""


def test_a_new_account_is_on_the_default_plan_with_no_stripe_ids(settings):
    account = account_create(name="Acme", owner_username="owner", password="a-long-password-1")
    subscription = AccountSubscription.objects.get(account=account)
    assert subscription.plan.slug == settings.PLANS_DEFAULT_SLUG
    assert subscription.status == AccountSubscription.Status.ACTIVE
    assert (subscription.stripe_customer_id, subscription.stripe_subscription_id) == ("", "")


def test_the_default_plan_is_created_again_on_first_need_if_its_rows_are_gone(settings):
    account = account_create(name="Acme", owner_username="owner", password="a-long-password-1")
    AccountSubscription.objects.all().delete()
    PlanVersion.objects.all().delete()
    Plan.objects.all().delete()
    subscription = account_subscription_ensure(account=account)
    assert subscription.plan.slug == settings.PLANS_DEFAULT_SLUG
    assert account_subscription_ensure(account_id=account.pk).pk == subscription.pk
