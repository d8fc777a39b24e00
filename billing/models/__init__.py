from billing.models.accounts import Account, Membership
from billing.models.connection import StripeConnection

__all__ = ["Account", "Membership", "StripeConnection"]
