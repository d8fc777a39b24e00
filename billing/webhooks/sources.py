"""Where a relationship's events come from in Stripe's API: the platform's key, or an account's own connection.
Used by the staff's replay (operations.py) and the Events API backfill (backfill.py)."""

from accounts.models import Account
from billing.models import StripeConnection
from billing.relationships import Relationship
from billing.stripe.client import StripeClient


def client_for(relationship: str, account: Account | None) -> StripeClient:
    """The client of the relationship the event belongs to: the account's own Stripe, or the platform's."""
    if relationship == Relationship.PLATFORM:
        return StripeClient.for_platform()
    # NoStripeConnection (409) when the account is not connected.
    return StripeClient.for_connection(StripeConnection.objects.filter(account=account).first())
