from billing.models.accounts import Account, Membership
from billing.models.connection import StripeConnection
from billing.models.events import WebhookEvent

__all__ = ["Account", "Membership", "StripeConnection", "WebhookEvent"]
