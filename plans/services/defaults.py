"""The default plan (`free` unless settings say otherwise): every account is on it until it pays for another, it
needs no Stripe, and it exists after `migrate` (plans/migrations/0002), or on first need should its rows have
been removed."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from plans.models import AccountSubscription, Plan, PlanVersion


def default_plan_version() -> PlanVersion:
    """The default plan's active version, created (version 1, from settings) when missing."""
    slug = settings.PLANS_DEFAULT_SLUG
    version = (
        PlanVersion.objects.select_related("plan").filter(plan__slug=slug, active=True).order_by("-version").first()
    )
    if version is not None:
        return version
    try:
        with transaction.atomic():
            plan, _ = Plan.objects.get_or_create(
                slug=slug, defaults={"name": settings.PLANS_DEFAULT_NAME, "public": True}
            )
            return PlanVersion.objects.create(
                plan=plan,
                version=(plan.versions.order_by("-version").values_list("version", flat=True).first() or 0) + 1,
                weekly_quota=settings.PLANS_DEFAULT_WEEKLY_QUOTA,
                ratios={"default": "1"},
                effective_from=timezone.now(),
            )
    except IntegrityError:
        # Another process created it first.
        return PlanVersion.objects.select_related("plan").get(plan__slug=slug, active=True)


def account_subscription_ensure(*, account: Account | None = None, account_id=None) -> AccountSubscription:
    """The account's subscription, created on the default plan (no Stripe call) if it has none yet."""
    account_id = account_id or account.pk
    existing = AccountSubscription.objects.select_related("plan", "plan_version").filter(account_id=account_id).first()
    if existing is not None:
        return existing
    version = default_plan_version()
    subscription, _ = AccountSubscription.objects.select_related("plan", "plan_version").get_or_create(
        account_id=account_id, defaults={"plan": version.plan, "plan_version": version}
    )
    return subscription
