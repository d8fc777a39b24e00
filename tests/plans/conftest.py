"""Fixtures of plans' tests: a paid plan whose versions carry Stripe price ids, and signed platform deliveries
processed in place (eager Celery)."""

import pytest
from django.utils import timezone

from billing.models import WebhookEvent
from plans.models import AccountSubscription, Plan, PlanVersion
from tests.helpers.stripe_signing import make_event
from tests.helpers.webhooks import ACCOUNT_SECRET, PLATFORM_SECRET, PLATFORM_URL, account_url, post_event

PRO_MONTH = "price_pro_month"
PRO_YEAR = "price_pro_year"
TEAM_MONTH = "price_team_month"
CUSTOMER = "cus_QXg1o8vcGmoR32"  # the customer of Stripe's example objects (tests/fixtures)
SUBSCRIPTION = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"


def paid_plan(slug: str, month: str, year: str = "", quota: int = 10_000) -> PlanVersion:
    plan = Plan.objects.create(slug=slug, name=slug.title(), stripe_product_id=f"prod_{slug}")
    return PlanVersion.objects.create(
        plan=plan,
        version=1,
        weekly_quota=quota,
        stripe_price_month=month,
        stripe_price_year=year,
        effective_from=timezone.now(),
    )


@pytest.fixture
def pro(db) -> PlanVersion:
    return paid_plan("pro", PRO_MONTH, PRO_YEAR)


@pytest.fixture
def team(db) -> PlanVersion:
    return paid_plan("team", TEAM_MONTH, quota=50_000)


@pytest.fixture
def our_customer(account) -> AccountSubscription:
    """The account as the platform's customer (its id stored, as after its first checkout)."""
    AccountSubscription.objects.filter(account=account).update(stripe_customer_id=CUSTOMER)
    return AccountSubscription.objects.get(account=account)


@pytest.fixture
def deliver_platform(settings, django_capture_on_commit_callbacks):
    """Posts a signed platform event and runs its processing in place; answers the stored event."""
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET

    def _deliver(event_type, obj, *, created, event_id=None):
        event = make_event(event_type, obj, created=created, event_id=event_id)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(PLATFORM_URL, event, PLATFORM_SECRET)
        assert response.status_code == 200, response.content
        return WebhookEvent.objects.get(relationship="platform", stripe_event_id=event["id"])

    return _deliver


@pytest.fixture
def deliver_account(django_capture_on_commit_callbacks):
    """Posts a signed event on the account's OWN endpoint (its own Stripe) and runs its processing."""

    def _deliver(account, event_type, obj, *, created):
        event = make_event(event_type, obj, created=created)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(account_url(account), event, ACCOUNT_SECRET)
        assert response.status_code == 200, response.content
        return WebhookEvent.objects.get(account=account, stripe_event_id=event["id"])

    return _deliver
