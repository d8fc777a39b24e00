"""The account's own moves (SPEC §7, §11): subscribe through Stripe Checkout, change plan, cancel at period end,
resume. Each asks the platform's Stripe and writes nothing of the outcome itself: the platform's webhooks bring
the new state back (plans/handlers.py), in Stripe's order."""

import uuid

from django.conf import settings

from accounts.models import Account
from billing.stripe.client import StripeClient
from core.errors import Conflict, InvalidInput
from plans.models import AccountSubscription, Plan, PlanVersion
from plans.services.defaults import account_subscription_ensure
from plans.services.platform_customer import platform_customer_ensure
from plans.services.stripe_shapes import subscription_item_id

INTERVALS = ("month", "year")
PAYING = (AccountSubscription.Status.ACTIVE, AccountSubscription.Status.TRIALING, AccountSubscription.Status.PAST_DUE)
CHECKOUT_KIND = "plan"  # checkout.session.completed on the platform is shared with metering's extras packs


def _price_for(*, slug: str, interval: str) -> tuple[Plan, PlanVersion, str]:
    if interval not in INTERVALS:
        raise InvalidInput(f"Unknown interval {interval!r}: month or year.", details={"interval": interval})
    version = PlanVersion.objects.select_related("plan").filter(plan__slug=slug, active=True).first()
    if version is None or not version.plan.public:
        raise InvalidInput(f"Unknown plan {slug!r}.", code="unknown_plan", details={"plan": slug})
    price = version.stripe_price_month if interval == "month" else version.stripe_price_year
    if not price:
        raise InvalidInput(
            f"Plan {slug!r} has no {interval}ly price to subscribe to.",
            code="plan_not_purchasable",
            details={"plan": slug, "interval": interval},
        )
    return version.plan, version, price


def subscription_checkout_create(*, account: Account, plan_slug: str, interval: str = "month") -> dict:
    """A Stripe Checkout session in subscription mode for the plan: `{"url", "session_id"}`. An account that
    already pays for a subscription changes plan instead (409)."""
    plan, _, price = _price_for(slug=plan_slug, interval=interval)
    current = account_subscription_ensure(account=account)
    if current.stripe_subscription_id and current.status in PAYING:
        raise Conflict(
            "This account already has a subscription: change its plan (POST .../subscription/change/).",
            code="already_subscribed",
        )
    customer_id = platform_customer_ensure(account=account)
    metadata = {"kind": CHECKOUT_KIND, "account_id": str(account.pk), "plan": plan.slug}
    session = StripeClient.for_platform().create(
        "/v1/checkout/sessions",
        # A fresh key per request (the SPA sends no request id): the SDK's own retries of this request reuse it.
        idempotency_key=f"platform:account:{account.pk}:checkout:{uuid.uuid4()}",
        mode="subscription",
        customer=customer_id,
        line_items=[{"price": price, "quantity": 1}],
        success_url=settings.PLANS_CHECKOUT_SUCCESS_URL,
        cancel_url=settings.PLANS_CHECKOUT_CANCEL_URL,
        client_reference_id=str(account.pk),
        metadata=metadata,
        subscription_data={"metadata": metadata},
    )
    return {"url": session["url"], "session_id": session["id"]}


def _live_subscription(account: Account) -> tuple[AccountSubscription, dict]:
    current = account_subscription_ensure(account=account)
    if not current.stripe_subscription_id or current.status not in PAYING:
        raise Conflict(
            "This account has no paid subscription to change: subscribe through checkout first.",
            code="no_subscription",
        )
    live = StripeClient.for_platform().retrieve("/v1/subscriptions", current.stripe_subscription_id)
    return current, live


def subscription_change(*, account: Account, plan_slug: str, interval: str = "month") -> dict:
    """Moves the subscription to the plan's price, prorated as Stripe does (`create_prorations`)."""
    _, version, price = _price_for(slug=plan_slug, interval=interval)
    current, live = _live_subscription(account)
    if current.plan_version_id == version.pk and not current.unknown_price_id:
        raise Conflict(f"This account is on plan {plan_slug!r} already.", code="same_plan")
    return StripeClient.for_platform().update(
        "/v1/subscriptions",
        current.stripe_subscription_id,
        idempotency_key=f"platform:subscription:{current.stripe_subscription_id}:change:{price}:{uuid.uuid4()}",
        items=[{"id": subscription_item_id(live), "price": price}],
        proration_behavior="create_prorations",
    )


def subscription_cancel_at_period_end(*, account: Account, cancel: bool = True) -> dict:
    """Cancel at the end of the paid period (`cancel=False`: resume a cancellation not yet effective)."""
    current, live = _live_subscription(account)
    if bool(live.get("cancel_at_period_end")) == cancel:
        return live
    return StripeClient.for_platform().update(
        "/v1/subscriptions",
        current.stripe_subscription_id,
        idempotency_key=f"platform:subscription:{current.stripe_subscription_id}:cancel:{cancel}:{uuid.uuid4()}",
        cancel_at_period_end=cancel,
    )
