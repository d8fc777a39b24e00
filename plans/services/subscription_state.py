"""The one way the platform's Stripe state lands on an `AccountSubscription` (SPEC §7): webhook handlers, the
checkout task and the staff re-sync all come here, under a row lock, inside their transaction.

Ordering (SPEC §3): Stripe does not deliver in order, so each change carries a stamp `(created, id)` of the event
that brought it, and applies only when newer than the last stamp applied of its family (subscription events,
invoice events); in the same second the greater id wins. An older stamp is recorded as skipped and changes nothing.

A plan change calls `plans.hooks.plan_changed` (metering rotates the open week's quota) in the same transaction; a
change of plan or status tells the account's members (`subscription_updated`, after commit)."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from accounts.notifications import notify_account
from plans.hooks import plan_changed
from plans.models import AccountSubscription, PlanVersion
from plans.services.defaults import default_plan_version
from plans.services.stripe_shapes import subscription_period, subscription_price_id, timestamp

logger = logging.getLogger(__name__)

Status = AccountSubscription.Status
SUBSCRIPTION_FAMILY = "subscription"
INVOICE_FAMILY = "invoice"
SUBSCRIPTION_UPDATED = "subscription_updated"
# A subscription in these states bills nothing any more (an unpaid first invoice expires as incomplete_expired).
ENDED = (Status.CANCELED, Status.INCOMPLETE_EXPIRED)


@dataclass(frozen=True)
class Stamp:
    created: datetime
    event_id: str

    @classmethod
    def of_event(cls, payload: dict) -> "Stamp":
        return cls(created=timestamp(payload["created"]), event_id=payload["id"])


def _fields(family: str) -> tuple[str, str]:
    return f"last_{family}_event_created", f"last_{family}_event_id"


def is_newer(subscription: AccountSubscription, family: str, stamp: Stamp) -> bool:
    created_field, id_field = _fields(family)
    last_created, last_id = getattr(subscription, created_field), getattr(subscription, id_field)
    if last_created is None:
        return True
    return (stamp.created, stamp.event_id) > (last_created, last_id)


def _record(subscription: AccountSubscription, family: str, stamp: Stamp) -> list[str]:
    created_field, id_field = _fields(family)
    setattr(subscription, created_field, stamp.created)
    setattr(subscription, id_field, stamp.event_id)
    return [created_field, id_field]


def locked(account_subscription_id: int) -> AccountSubscription:
    return (
        AccountSubscription.objects.select_for_update()
        .select_related("plan", "plan_version")
        .get(pk=account_subscription_id)
    )


def version_for_price(price_id: str) -> PlanVersion | None:
    """The newest version carrying this price (a bump without new prices carries the previous ones over)."""
    if not price_id:
        return None
    return (
        PlanVersion.objects.select_related("plan")
        .filter(Q(stripe_price_month=price_id) | Q(stripe_price_year=price_id))
        .order_by("-version")
        .first()
    )


def _save(subscription: AccountSubscription, before: tuple, fields: list[str], *, previous_version) -> None:
    subscription.save(update_fields=[*fields, "updated_at"])
    plan_changed(subscription=subscription, previous_version=previous_version, new_version=subscription.plan_version)
    after = (subscription.plan_version_id, subscription.status)
    if after != before:
        notify_account(subscription.account_id, SUBSCRIPTION_UPDATED, subscription_event_data(subscription))


def subscription_event_data(subscription: AccountSubscription) -> dict:
    return {
        "plan": {"slug": subscription.plan.slug, "name": subscription.plan.name},
        "plan_version": subscription.plan_version.version,
        "status": subscription.status,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "current_period_end": subscription.current_period_end.isoformat() if subscription.current_period_end else None,
    }


def _move_to(subscription: AccountSubscription, version: PlanVersion) -> list[str]:
    subscription.plan = version.plan
    subscription.plan_version = version
    return ["plan", "plan_version"]


def subscription_apply(*, account_subscription_id: int, data: dict, stamp: Stamp, force: bool = False) -> bool:
    """Applies a Stripe subscription object (from an event or retrieved). Returns False when skipped as older.
    An unknown price keeps the plan the account pays for and is reported (logged and kept on the row), never a
    silent downgrade. `force` (staff re-sync) applies whatever the stamp."""
    with transaction.atomic():
        subscription = locked(account_subscription_id)
        if not force and not is_newer(subscription, SUBSCRIPTION_FAMILY, stamp):
            logger.info("plans: %s older than the last applied subscription event, skipped", stamp.event_id)
            return False
        if data.get("status") in ENDED or data.get("deleted"):
            return _to_default_plan(subscription, stamp, clear_customer=False)
        before = (subscription.plan_version_id, subscription.status)
        previous_version = subscription.plan_version
        fields = _record(subscription, SUBSCRIPTION_FAMILY, stamp)
        price_id = subscription_price_id(data)
        version = version_for_price(price_id)
        if version is None:
            logger.error(
                "plans: account %s subscription %s is on price %s, which maps to no plan: kept on %s",
                subscription.account_id,
                data.get("id"),
                price_id,
                subscription.plan_version,
            )
            subscription.unknown_price_id = price_id
        else:
            subscription.unknown_price_id = ""
            if version.pk != subscription.plan_version_id:
                fields += _move_to(subscription, version)
        start, end = subscription_period(data)
        status = data.get("status") or subscription.status
        subscription.status = status if status in Status.values else subscription.status
        subscription.stripe_subscription_id = data.get("id") or subscription.stripe_subscription_id
        customer = data.get("customer")
        if isinstance(customer, str) and customer:
            subscription.stripe_customer_id = customer
        subscription.current_period_start, subscription.current_period_end = start, end
        subscription.cancel_at_period_end = bool(data.get("cancel_at_period_end"))
        if subscription.status in (Status.ACTIVE, Status.TRIALING):
            subscription.past_due_since = None
        fields += [
            "unknown_price_id",
            "status",
            "stripe_subscription_id",
            "stripe_customer_id",
            "current_period_start",
            "current_period_end",
            "cancel_at_period_end",
            "past_due_since",
        ]
        _save(subscription, before, fields, previous_version=previous_version)
        return True


def _to_default_plan(subscription: AccountSubscription, stamp: Stamp, *, clear_customer: bool) -> bool:
    """Back on the default plan (the subscription ended, or the customer was deleted): active there, as an
    account that never paid is (the weekly reset serves active accounts)."""
    before = (subscription.plan_version_id, subscription.status)
    previous_version = subscription.plan_version
    fields = _record(subscription, SUBSCRIPTION_FAMILY, stamp)
    fields += _move_to(subscription, default_plan_version())
    subscription.status = Status.ACTIVE
    subscription.stripe_subscription_id = ""
    if clear_customer:
        subscription.stripe_customer_id = ""
    subscription.current_period_start = subscription.current_period_end = None
    subscription.cancel_at_period_end = False
    subscription.past_due_since = None
    subscription.unknown_price_id = ""
    fields += [
        "status",
        "stripe_subscription_id",
        "stripe_customer_id",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "past_due_since",
        "unknown_price_id",
    ]
    _save(subscription, before, fields, previous_version=previous_version)
    return True


def subscription_deleted_apply(*, account_subscription_id: int, subscription_id: str, stamp: Stamp) -> bool:
    with transaction.atomic():
        subscription = locked(account_subscription_id)
        if not is_newer(subscription, SUBSCRIPTION_FAMILY, stamp):
            return False
        if subscription.stripe_subscription_id and subscription.stripe_subscription_id != subscription_id:
            logger.info("plans: deletion of %s, not the account's current subscription: skipped", subscription_id)
            return False
        return _to_default_plan(subscription, stamp, clear_customer=False)


def customer_deleted_apply(*, account_subscription_id: int, stamp: Stamp) -> bool:
    """The platform customer is gone: default plan, Stripe ids cleared (a later checkout creates a new customer).
    Counted in the subscription family: it ends the subscription."""
    with transaction.atomic():
        subscription = locked(account_subscription_id)
        if not is_newer(subscription, SUBSCRIPTION_FAMILY, stamp):
            return False
        return _to_default_plan(subscription, stamp, clear_customer=True)


def invoice_apply(*, account_subscription_id: int, paid: bool, stamp: Stamp) -> bool:
    """`invoice.payment_failed` → past_due (`past_due_since` set only when empty: the first failure dates the
    dunning); `invoice.payment_succeeded` / `invoice.paid` → active, `past_due_since` cleared."""
    with transaction.atomic():
        subscription = locked(account_subscription_id)
        if not is_newer(subscription, INVOICE_FAMILY, stamp):
            logger.info("plans: %s older than the last applied invoice event, skipped", stamp.event_id)
            return False
        before = (subscription.plan_version_id, subscription.status)
        fields = _record(subscription, INVOICE_FAMILY, stamp)
        if paid:
            subscription.status = Status.ACTIVE
            subscription.past_due_since = None
        else:
            subscription.status = Status.PAST_DUE
            if subscription.past_due_since is None:
                subscription.past_due_since = stamp.created
        fields += ["status", "past_due_since"]
        _save(subscription, before, fields, previous_version=subscription.plan_version)
        return True


def subscription_dunning_apply(*, account_subscription_id: int, past_due_before: datetime) -> bool:
    """Dunning: still past_due since before `past_due_before` → unpaid, on the default plan (metering rotates the
    week through `plan_changed`; the members are told). False when the row moved on meanwhile (paid, or later).
    `past_due_since` stays: it dates when the account stopped paying."""
    with transaction.atomic():
        subscription = locked(account_subscription_id)
        if subscription.status != Status.PAST_DUE or not subscription.past_due_since:
            return False
        if subscription.past_due_since >= past_due_before:
            return False
        before = (subscription.plan_version_id, subscription.status)
        previous_version = subscription.plan_version
        fields = _move_to(subscription, default_plan_version())
        subscription.status = Status.UNPAID
        _save(subscription, before, [*fields, "status"], previous_version=previous_version)
        return True
