"""The demo's plans (scripts/dev): `free` (the default, from migrate) and `pro`, whose product and prices live in
the local Stripe's PLATFORM account (settings.STRIPE_SECRET_KEY); and the platform's webhook endpoint registered
there, so that paying on the hosted checkout page (/checkout/<id>) moves the demo account to `pro`.

The local Stripe keeps nothing across runs while our database does: when the stored prices are gone from it, new
ones are made and written as the plan's next version (versions are immutable)."""

import json
import urllib.request
import uuid

from django.conf import settings

from billing.stripe.client import StripeClient
from core.errors import StripeRejected
from plans.models import Plan, PlanVersion
from plans.services.catalog import plan_create, plan_version_create

PRO = {
    "slug": "pro",
    "name": "Pro",
    "weekly_quota": 20_000,
    "ratios": {"gpu": "2.5", "default": "1"},
    "prices": [
        {"interval": "month", "amount": 2900, "currency": "usd"},
        {"interval": "year", "amount": 29000, "currency": "usd"},
    ],
}
# What plans/handlers.py handles: the local Stripe shares one store between keys, so the demo account's own
# objects would otherwise be posted to the platform endpoint too.
PLATFORM_EVENTS = [
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.paid",
    "customer.deleted",
]


def _in_stripe(price_id: str) -> bool:
    try:
        StripeClient.for_platform().retrieve("/v1/prices", price_id)
    except StripeRejected:
        return False
    return True


def ensure_pro_plan() -> PlanVersion:
    version = PlanVersion.objects.select_related("plan").filter(plan__slug=PRO["slug"], active=True).first()
    if version is None:
        return plan_create(**PRO)
    if version.stripe_price_month and _in_stripe(version.stripe_price_month):
        return version
    product = StripeClient.for_platform().create(
        "/v1/products", name=PRO["name"], metadata={"plan": PRO["slug"]}, idempotency_key=f"localdev:pro:{uuid.uuid4()}"
    )
    Plan.objects.filter(pk=version.plan_id).update(stripe_product_id=product["id"])
    version.plan.refresh_from_db()
    return plan_version_create(plan=version.plan, prices=PRO["prices"])


def register_platform_webhook() -> str:
    url = f"{settings.PUBLIC_BASE_URL}/api/v1/billing/webhooks/stripe/"
    body = json.dumps({"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET, "events": PLATFORM_EVENTS}).encode()
    request = urllib.request.Request(
        f"{settings.STRIPE_API_BASE}/_config/webhooks/platform",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        return url


def seed_plans(out=print) -> None:
    version = ensure_pro_plan()
    out(f"plans: free and {version.plan.slug} v{version.version} (price {version.stripe_price_month})")
    if settings.STRIPE_API_BASE:
        out(f"plans: platform webhooks from the local Stripe to {register_platform_webhook()}")
