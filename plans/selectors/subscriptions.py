"""Reads of our billing of accounts: which AccountSubscription a platform Stripe object is about, and the
account's subscription as the SPA shows it."""

import logging
import uuid

from plans.models import AccountSubscription, Plan

logger = logging.getLogger(__name__)


def account_subscription_get(*, account_id) -> AccountSubscription | None:
    return AccountSubscription.objects.select_related("plan", "plan_version").filter(account_id=account_id).first()


def account_subscription_for_platform_object(
    *, customer_id: str = "", subscription_id: str = "", account_id: str = ""
) -> AccountSubscription | None:
    """The account a platform event is about: by the Stripe ids we stored, else by the account id we put in the
    customer's / subscription's metadata (the first events of a checkout can arrive before we stored the ids).
    A metadata account whose stored customer is another one is not this customer's: None."""
    rows = AccountSubscription.objects.select_related("plan", "plan_version")
    if subscription_id:
        found = rows.filter(stripe_subscription_id=subscription_id).first()
        if found is not None:
            return found
    if customer_id:
        found = rows.filter(stripe_customer_id=customer_id).first()
        if found is not None:
            return found
    account_uuid = _uuid(account_id)
    if account_uuid is not None:
        found = rows.filter(account_id=account_uuid).first()
        if found is not None and found.stripe_customer_id in ("", customer_id):
            return found
        if found is not None:
            logger.warning(
                "plans: metadata names account %s, whose platform customer is %s, not %s",
                account_id,
                found.stripe_customer_id,
                customer_id,
            )
    return None


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def plan_list(*, public_only: bool = False):
    plans = Plan.objects.prefetch_related("versions").order_by("slug")
    return plans.filter(public=True) if public_only else plans


def plan_get(*, slug: str) -> Plan | None:
    return Plan.objects.filter(slug=slug).first()
