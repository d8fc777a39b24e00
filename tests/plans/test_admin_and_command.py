"""Staff's other ways in: the admin (plans with a bump action; subscriptions read-only with a re-sync from Stripe
for billing_admin_ops) and `manage.py create_plan`."""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client

from plans.models import AccountSubscription, PlanVersion
from plans.services.account_plan import subscription_checkout_create
from plans.services.catalog import plan_create
from tests.billing.stripe_seed import Stripe
from tests.factories import UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY

pytestmark = pytest.mark.django_db
PLANS = "/admin/plans/plan/"
SUBSCRIPTIONS = "/admin/plans/accountsubscription/"


@pytest.fixture
def platform(settings, stripe_api_base):
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


def staff(*codenames) -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    browser = Client()
    browser.force_login(user)
    return browser


def test_the_bump_action_writes_the_next_version(pro):
    browser = staff("view_plan", "change_plan")
    response = browser.post(PLANS, {"action": "bump_version", "_selected_action": [pro.plan_id]}, follow=True)
    assert response.status_code == 200
    assert list(PlanVersion.objects.filter(plan=pro.plan).values_list("version", "active")) == [(2, True), (1, False)]
    assert browser.get(f"{PLANS}{pro.plan_id}/change/").status_code == 200


def test_subscriptions_are_read_only_and_the_resync_needs_billing_admin_ops(
    account, platform, stripe_server, django_capture_on_commit_callbacks
):
    plan_create(
        slug="pro", name="Pro", weekly_quota=10, prices=[{"interval": "month", "amount": 900, "currency": "usd"}]
    )
    session = subscription_checkout_create(account=account, plan_slug="pro")
    completed = stripe_server.complete_checkout(session["session_id"])
    AccountSubscription.objects.filter(account=account).update(stripe_subscription_id=completed["subscription"])
    row = AccountSubscription.objects.get(account=account)
    assert row.plan.slug == "free"  # no webhook in this test: only the re-sync can tell us

    viewer = staff("view_accountsubscription", "change_accountsubscription")
    assert viewer.get(f"{SUBSCRIPTIONS}{row.pk}/change/").status_code == 200
    viewer.post(SUBSCRIPTIONS, {"action": "resync_from_stripe", "_selected_action": [row.pk]}, follow=True)
    assert AccountSubscription.objects.get(pk=row.pk).plan.slug == "free"  # not allowed: nothing ran

    ops = staff("view_accountsubscription", "change_accountsubscription", "billing_admin_ops")
    with django_capture_on_commit_callbacks(execute=True):  # the queued task runs (eager Celery in tests)
        response = ops.post(SUBSCRIPTIONS, {"action": "resync_from_stripe", "_selected_action": [row.pk]}, follow=True)
    assert b"1 re-sync(s) queued" in response.content
    synced = AccountSubscription.objects.select_related("plan").get(pk=row.pk)
    assert (synced.plan.slug, synced.status, synced.last_subscription_event_id) == ("pro", "active", "resync")


def test_create_plan_from_the_shell(platform, capsys):
    call_command(
        "create_plan", "team", "Team", "--weekly-quota", "5000", "--price", "month:4900:usd", "--ratios", '{"gpu": "3"}'
    )
    version = PlanVersion.objects.get(plan__slug="team")
    assert version.ratios == {"gpu": "3"} and version.stripe_price_month
    assert platform.get(f"/v1/prices/{version.stripe_price_month}")["unit_amount"] == 4900
    assert "team v1" in capsys.readouterr().out

    with pytest.raises(CommandError, match="exists already"):
        call_command("create_plan", "team", "Team", "--weekly-quota", "5000", "--price", "month:4900:usd")
    with pytest.raises(CommandError, match="interval:amount"):
        call_command("create_plan", "x", "X", "--weekly-quota", "1", "--price", "monthly")
