"""Dunning (SPEC §7, issue 16; daily beat): an account subscription past_due for longer than
`BILLING_DUNNING_DAYS` becomes unpaid and the account goes back to the default plan. Each account is moved in its
own transaction: one that cannot be moved is logged as a desync, recorded as a `dunning` divergence for staff and
counted in the result; the others still move."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from plans.models import AccountSubscription, Divergence
from plans.services.subscription_state import subscription_dunning_apply

logger = logging.getLogger(__name__)


def dunning_run(*, now=None) -> dict:
    """`{"due", "moved", "failed"}`."""
    now = now or timezone.now()
    past_due_before = now - timedelta(days=settings.BILLING_DUNNING_DAYS)
    due = list(
        AccountSubscription.objects.filter(
            status=AccountSubscription.Status.PAST_DUE, past_due_since__lt=past_due_before
        ).values_list("pk", "account_id")
    )
    moved = failed = 0
    for pk, account_id in due:
        try:
            moved += subscription_dunning_apply(account_subscription_id=pk, past_due_before=past_due_before)
        except Exception as exc:  # one account failing must not hide, nor stop the others
            failed += 1
            logger.exception("plans: dunning could not move account %s to unpaid: desync", account_id)
            Divergence.objects.create(
                kind=Divergence.Kind.DUNNING,
                account_id=account_id,
                subscription_id=pk,
                ours={"status": AccountSubscription.Status.PAST_DUE},
                theirs={"status": AccountSubscription.Status.UNPAID},
                fields=["status", "plan"],
                note=f"Dunning could not move the account: {exc.__class__.__name__}: {exc}"[:2000],
            )
    if due:
        logger.info("plans: dunning moved %s of %s past-due subscriptions (%s failed)", moved, len(due), failed)
    return {"due": len(due), "moved": moved, "failed": failed}
