"""Reads over webhook events for staff tools (the admin, the admin toolkit API of SPEC §9)."""

from django.db.models import QuerySet

from accounts.models import Account
from billing.models import WebhookEvent
from billing.relationships import Relationship


def dead_letter_list(*, relationship: str | None = None, account: Account | None = None) -> QuerySet[WebhookEvent]:
    """Dead letters, newest first; paginate the queryset. `account` narrows to one account's events."""
    events = WebhookEvent.objects.dead_letters().select_related("account").order_by("-received_at", "-id")
    if relationship:
        events = events.filter(relationship=relationship)
    if account is not None:
        events = events.filter(account=account)
    return events


def webhook_event_get(*, stripe_event_id: str, account: Account | None = None) -> WebhookEvent | None:
    """The stored event with this Stripe id: the account's copy when `account` is given, else the platform's."""
    return (
        WebhookEvent.objects.filter(
            relationship=Relationship.of(account), account=account, stripe_event_id=stripe_event_id
        )
        .select_related("account")
        .first()
    )
