"""Staff create plans and their versions (SPEC §11 "Plans (staff)"): the product and prices in the platform's
Stripe first (idempotency keys derived from the plan and what is asked, so a retried request reuses them), then our
rows. Bad input is refused before anything reaches Stripe."""

import hashlib
import json
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.stripe.client import StripeClient
from core.errors import Conflict, InvalidInput
from plans.models import Plan, PlanVersion
from plans.services.versions import DEFAULT_MAX_ATTEMPTS, plan_version_bump

INTERVALS = ("month", "year")
RATIO_NAME = r"^[a-zA-Z0-9_-]+$"


def ratios_validate(ratios: dict | None) -> dict:
    """Category → positive decimal, kept as strings (METERING.md "Costs → units")."""
    if ratios is None:
        return {"default": "1"}
    cleaned = {}
    for name, value in ratios.items():
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number <= 0:
            raise InvalidInput(f"Ratio {name!r} must be a positive decimal, not {value!r}.", details={"ratios": name})
        cleaned[str(name)] = str(number)
    return cleaned


def _key(*parts) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"plans:{parts[0]}:{digest}"


def _prices_create(*, client: StripeClient, slug: str, product_id: str, prices: list[dict], version: int) -> dict:
    """{interval: price id}, one recurring price per interval."""
    intervals = [price["interval"] for price in prices]
    if len(set(intervals)) != len(intervals):
        raise InvalidInput("One price per interval (month, year).", details={"prices": intervals})
    created = {}
    for price in prices:
        if price["interval"] not in INTERVALS:
            raise InvalidInput(f"Unknown interval {price['interval']!r}: month or year.")
        created[price["interval"]] = client.create(
            "/v1/prices",
            idempotency_key=_key(slug, "price", version, price),
            product=product_id,
            unit_amount=price["amount"],
            currency=price["currency"].lower(),
            recurring={"interval": price["interval"]},
            metadata={"plan": slug, "plan_version": str(version)},
        )["id"]
    return created


def plan_create(
    *, slug: str, name: str, weekly_quota: int, ratios: dict | None = None, prices: list[dict], public: bool = True
) -> PlanVersion:
    """The plan, its version 1, and its product and prices in the platform's Stripe. A slug in use → 409."""
    ratios = ratios_validate(ratios)
    if not prices:
        raise InvalidInput("A plan needs at least one price (month or year).", details={"prices": []})
    if Plan.objects.filter(slug=slug).exists():
        raise Conflict(f"A plan {slug!r} exists already.", code="plan_exists", details={"slug": slug})
    client = StripeClient.for_platform()
    product = client.create(
        "/v1/products", idempotency_key=_key(slug, "product", name), name=name, metadata={"plan": slug}
    )
    price_ids = _prices_create(client=client, slug=slug, product_id=product["id"], prices=prices, version=1)
    try:
        with transaction.atomic():
            plan = Plan.objects.create(slug=slug, name=name, public=public, stripe_product_id=product["id"])
            return PlanVersion.objects.create(
                plan=plan,
                version=1,
                weekly_quota=weekly_quota,
                ratios=ratios,
                stripe_price_month=price_ids.get("month", ""),
                stripe_price_year=price_ids.get("year", ""),
                effective_from=timezone.now(),
            )
    except IntegrityError:
        raise Conflict(f"A plan {slug!r} exists already.", code="plan_exists", details={"slug": slug}) from None


def plan_version_create(
    *,
    plan: Plan,
    weekly_quota: int | None = None,
    ratios: dict | None = None,
    prices: list[dict] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> PlanVersion:
    """A new version of the plan; new prices are created in Stripe when given, else the active version's kept
    (subscribers on them then map to the new version)."""
    ratios = ratios_validate(ratios) if ratios is not None else None
    price_ids = {}
    if prices:
        if not plan.stripe_product_id:
            raise InvalidInput(f"Plan {plan.slug!r} has no Stripe product: it cannot have prices.")
        next_version = (plan.versions.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        price_ids = _prices_create(
            client=StripeClient.for_platform(),
            slug=plan.slug,
            product_id=plan.stripe_product_id,
            prices=prices,
            version=next_version,
        )
    return plan_version_bump(
        plan=plan,
        weekly_quota=weekly_quota,
        ratios=ratios,
        stripe_price_month=price_ids.get("month"),
        stripe_price_year=price_ids.get("year"),
        max_attempts=max_attempts,
    )
