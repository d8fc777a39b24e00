"""The weekly reconciliation (SPEC §9, issue 16; beat Sunday 03:00 UTC): every active, trialing, past_due and
unpaid AccountSubscription compared with Stripe's live subscription (status and plan, and the ids), read from Stripe
in pages of 100 (`GET /v1/subscriptions?status=all`) and matched in memory against ours, read in one query.
Each difference is stored as an open `subscription` Divergence and logged; nothing is changed by itself. Staff
resolve one with a force sync (the admin action queues `plans.force_sync_divergence`)."""

import logging

from django.db import transaction
from django.utils import timezone

from billing.stripe.client import StripeClient
from plans.models import AccountSubscription, Divergence
from plans.services.staff_subscription import (
    account_subscription_force_sync,
    differing_fields,
    ours,
    plan_slug_by_price,
    stripe_side,
)

logger = logging.getLogger(__name__)

Status = AccountSubscription.Status
RECONCILED = (Status.ACTIVE, Status.TRIALING, Status.PAST_DUE, Status.UNPAID)


def divergence_record(
    *, kind: str, account_id, subscription_id: int | None, ours: dict, theirs: dict, fields: list[str], note: str = ""
) -> Divergence:
    """Records (and logs) one difference. An open divergence of the same kind and subscription is updated rather
    than repeated week after week."""
    logger.warning(
        "plans: %s divergence for account %s on %s: ours %s, theirs %s", kind, account_id, fields, ours, theirs
    )
    existing = Divergence.objects.filter(
        kind=kind, account_id=account_id, subscription_id=subscription_id, status=Divergence.Status.OPEN
    ).first()
    if existing is not None:
        Divergence.objects.filter(pk=existing.pk).update(ours=ours, theirs=theirs, fields=fields, note=note)
        existing.refresh_from_db()
        return existing
    return Divergence.objects.create(
        kind=kind,
        account_id=account_id,
        subscription_id=subscription_id,
        ours=ours,
        theirs=theirs,
        fields=fields,
        note=note,
    )


def reconciliation_run() -> dict:
    """`{"compared", "divergences"}`."""
    rows = list(
        AccountSubscription.objects.select_related("plan", "plan_version")
        .filter(status__in=RECONCILED)
        .exclude(stripe_subscription_id="")
    )
    by_subscription = {row.stripe_subscription_id: row for row in rows}
    slugs = plan_slug_by_price()
    seen: set[str] = set()
    found = 0
    for live in StripeClient.for_platform().iterate("/v1/subscriptions", page_size=100, status="all"):
        row = by_subscription.get(live.get("id"))
        if row is None:
            continue
        seen.add(row.stripe_subscription_id)
        our_side, their_side = ours(row), stripe_side(live, slugs=slugs)
        fields = differing_fields(our_side, their_side)
        if fields:
            found += 1
            divergence_record(
                kind=Divergence.Kind.SUBSCRIPTION,
                account_id=row.account_id,
                subscription_id=row.pk,
                ours=our_side,
                theirs=their_side,
                fields=fields,
            )
    for subscription_id, row in by_subscription.items():
        if subscription_id not in seen:
            found += 1
            divergence_record(
                kind=Divergence.Kind.SUBSCRIPTION,
                account_id=row.account_id,
                subscription_id=row.pk,
                ours=ours(row),
                theirs={"subscription": None},
                fields=["stripe_subscription_id"],
                note="Stripe lists no such subscription.",
            )
    logger.info("plans: reconciliation compared %s subscriptions, %s divergences", len(rows), found)
    return {"compared": len(rows), "divergences": found}


def divergence_force_sync(*, divergence_id: int) -> str:
    """Stripe → DB for the divergence's account (the staff sync), then resolved. Answers what happened."""
    divergence = Divergence.objects.select_related("account").get(pk=divergence_id)
    if divergence.status == Divergence.Status.RESOLVED:
        return "already resolved"
    account_subscription_force_sync(account=divergence.account)
    with transaction.atomic():
        Divergence.objects.filter(pk=divergence.pk, status=Divergence.Status.OPEN).update(
            status=Divergence.Status.RESOLVED, resolved_at=timezone.now()
        )
    return "synced and resolved"
