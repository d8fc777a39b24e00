"""The staff toolkit on one account's platform subscription (SPEC §9, issue 16): ours beside Stripe's live copy,
a force sync Stripe → DB, and a cancellation verified in Stripe before our DB is written."""

from django.db import transaction
from django.utils import timezone

from billing.stripe.client import StripeClient
from core.errors import Conflict, StripeError, StripeRejected, StripeUnavailable
from plans.models import AccountSubscription, PlanVersion
from plans.services.defaults import account_subscription_ensure
from plans.services.resync import RESYNC_EVENT_ID
from plans.services.stripe_shapes import object_id, subscription_period, subscription_price_id
from plans.services.subscription_state import Stamp, subscription_apply, version_for_price

# The fields compared between our row and Stripe's live subscription (reconciliation compares the same).
COMPARED = ("status", "plan", "stripe_customer_id", "stripe_subscription_id", "cancel_at_period_end")


def _iso(value):
    return value.isoformat() if value else None


def ours(subscription: AccountSubscription) -> dict:
    return {
        "status": subscription.status,
        "plan": subscription.plan.slug,
        "plan_version": subscription.plan_version.version,
        "stripe_customer_id": subscription.stripe_customer_id,
        "stripe_subscription_id": subscription.stripe_subscription_id,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "current_period_end": _iso(subscription.current_period_end),
        "past_due_since": _iso(subscription.past_due_since),
        "unknown_price_id": subscription.unknown_price_id,
    }


def plan_slug_by_price() -> dict[str, str]:
    """Every price of every plan version → the plan's slug, in one query (reconciliation maps pages with it)."""
    slugs: dict[str, str] = {}
    for month, year, slug in PlanVersion.objects.order_by("version").values_list(
        "stripe_price_month", "stripe_price_year", "plan__slug"
    ):
        for price in (month, year):
            if price:
                slugs[price] = slug
    return slugs


def stripe_side(live: dict | None, customer: dict | None = None, *, slugs: dict[str, str] | None = None) -> dict:
    """Stripe's subscription in our terms (`plan` is the slug its price maps to, None when it maps to none)."""
    if live is None:
        return {"customer": customer, "subscription": None}
    price = subscription_price_id(live)
    if slugs is not None:
        slug = slugs.get(price)
    else:
        version = version_for_price(price)
        slug = version.plan.slug if version else None
    _, end = subscription_period(live)
    return {
        "status": live.get("status"),
        "plan": slug,
        "price": price,
        "stripe_customer_id": object_id(live.get("customer")),
        "stripe_subscription_id": live.get("id") or "",
        "cancel_at_period_end": bool(live.get("cancel_at_period_end")),
        "current_period_end": _iso(end),
        "customer": customer,
    }


def differing_fields(our_side: dict, their_side: dict) -> list[str]:
    if their_side.get("subscription", "") is None:
        # Stripe holds no subscription for the account: only a status we believe paid differs.
        return ["stripe_subscription_id"] if our_side["stripe_subscription_id"] else []
    return [field for field in COMPARED if our_side.get(field) != their_side.get(field)]


def customer_compare(*, account) -> dict:
    """`{account_id, ours, stripe, differs}`; Stripe unreachable or failing → `stripe: None` and an `error`."""
    subscription = account_subscription_ensure(account=account)
    our_side = ours(subscription)
    client = StripeClient.for_platform()
    try:
        customer = (
            client.retrieve("/v1/customers", subscription.stripe_customer_id)
            if subscription.stripe_customer_id
            else None
        )
        live = (
            client.retrieve("/v1/subscriptions", subscription.stripe_subscription_id)
            if subscription.stripe_subscription_id
            else None
        )
    except StripeError as exc:
        return {
            "account_id": str(account.pk),
            "ours": our_side,
            "stripe": None,
            "differs": [],
            "error": {"code": exc.code, "message": exc.message},
        }
    their_side = stripe_side(live, _customer_summary(customer))
    return {
        "account_id": str(account.pk),
        "ours": our_side,
        "stripe": their_side,
        "differs": differing_fields(our_side, their_side),
    }


def _customer_summary(customer: dict | None) -> dict | None:
    if customer is None:
        return None
    return {"id": customer.get("id"), "email": customer.get("email"), "deleted": bool(customer.get("deleted"))}


def _reload(pk: int) -> AccountSubscription:
    return AccountSubscription.objects.select_related("plan", "plan_version").get(pk=pk)


def account_subscription_force_sync(*, account) -> dict:
    """Stripe → DB for the account's platform subscription: `{previous, updated}`. A price mapping to no plan is a
    409 with nothing written (never a silent downgrade); no Stripe subscription is a 409 too."""
    subscription = account_subscription_ensure(account=account)
    previous = ours(subscription)
    if not subscription.stripe_subscription_id:
        raise Conflict(
            "This account has no subscription in the platform's Stripe to sync from.", code="no_subscription"
        )
    live = StripeClient.for_platform().retrieve("/v1/subscriptions", subscription.stripe_subscription_id)
    price = subscription_price_id(live)
    ended = live.get("status") in ("canceled", "incomplete_expired")
    if not ended and version_for_price(price) is None:
        raise Conflict(
            f"Stripe's subscription is on price {price!r}, which maps to no plan: nothing changed. "
            "Add the price to a plan version, then sync again.",
            code="unknown_price",
            details={"price": price},
        )
    subscription_apply(
        account_subscription_id=subscription.pk,
        data=live,
        stamp=Stamp(created=timezone.now().replace(microsecond=0), event_id=RESYNC_EVENT_ID),
        force=True,
    )
    return {"previous": previous, "updated": ours(_reload(subscription.pk))}


def account_subscription_staff_cancel(*, account) -> dict:
    """Cancels the platform subscription now in Stripe, retrieves it to verify, and only then writes our DB (the
    account back on the default plan): `{previous, updated, stripe_status}`. Not verified as canceled → 502, our
    DB untouched."""
    subscription = account_subscription_ensure(account=account)
    previous = ours(subscription)
    if not subscription.stripe_subscription_id:
        raise Conflict("This account has no subscription in the platform's Stripe to cancel.", code="no_subscription")
    client = StripeClient.for_platform()
    subscription_id = subscription.stripe_subscription_id
    try:
        client.delete("/v1/subscriptions", subscription_id)
    except StripeRejected:
        # Already canceled in Stripe (it refuses to cancel twice): the retrieval below decides.
        pass
    verified = client.retrieve("/v1/subscriptions", subscription_id)
    if verified.get("status") != "canceled":
        raise StripeUnavailable(
            f"Stripe did not confirm the cancellation of {subscription_id} (status {verified.get('status')!r}): "
            "nothing changed here. Try again.",
            code="cancel_not_verified",
            details={"stripe_status": verified.get("status")},
        )
    with transaction.atomic():
        subscription_apply(
            account_subscription_id=subscription.pk,
            data=verified,
            stamp=Stamp(created=timezone.now().replace(microsecond=0), event_id=RESYNC_EVENT_ID),
            force=True,
        )
    return {"previous": previous, "updated": ours(_reload(subscription.pk)), "stripe_status": verified["status"]}
