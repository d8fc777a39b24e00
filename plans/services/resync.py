"""The platform's Stripe read back onto an AccountSubscription: after a completed checkout (the task queued by the
webhook handler, which must not call Stripe itself) and on a staff re-sync.

Ordering of a retrieved subscription (docs/plans.md, "Ordering"): it is Stripe's state at least as new as the event
that asked for it, so it carries that event's stamp: it applies unless a newer subscription event has already
been applied (whose state then stands, and later events follow). A staff re-sync applies whatever the stamps say
and stamps the row with the time of the re-sync: events older than that describe an older state."""

from django.utils import timezone

from billing.stripe.client import StripeClient
from plans.models import AccountSubscription
from plans.services.subscription_state import Stamp, subscription_apply

RESYNC_EVENT_ID = "resync"  # sorts after no "evt_" id of the same second: an event of that second wins over it


def checkout_subscription_sync(*, account_subscription_id: int, subscription_id: str, stamp: Stamp) -> bool:
    live = StripeClient.for_platform().retrieve("/v1/subscriptions", subscription_id)
    return subscription_apply(account_subscription_id=account_subscription_id, data=live, stamp=stamp)


def account_subscription_resync(*, account_subscription: AccountSubscription) -> bool:
    """Staff: Stripe's live subscription onto our row. False when the account has no Stripe subscription."""
    if not account_subscription.stripe_subscription_id:
        return False
    live = StripeClient.for_platform().retrieve("/v1/subscriptions", account_subscription.stripe_subscription_id)
    now = timezone.now().replace(microsecond=0)
    return subscription_apply(
        account_subscription_id=account_subscription.pk,
        data=live,
        stamp=Stamp(created=now, event_id=RESYNC_EVENT_ID),
        force=True,
    )
