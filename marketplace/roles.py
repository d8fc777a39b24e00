"""Who sells and who buys (docs/marketplace.md, "Who is an agency").

An **agency** is a top-level account (no parent) with a usable Stripe connection: it sells through its own
Stripe. A **sub-account** buys from its parent, which must be an agency. Both checks read the database only."""

from billing.models import StripeConnection
from marketplace.errors import NotAnAgency, NotASubAccount


def has_usable_stripe(account) -> bool:
    connection = StripeConnection.objects.filter(account=account).only("status", "secret_key").first()
    return connection is not None and connection.is_usable


def require_agency(account):
    """The account itself when it may sell; NotAnAgency (403) with the reason otherwise."""
    if account.parent_id is not None:
        raise NotAnAgency(
            "This account is a sub-account: sub-accounts buy from their agency's store, they cannot sell. "
            "Only a top-level account with a connected Stripe is an agency."
        )
    if not has_usable_stripe(account):
        raise NotAnAgency(
            "Only an agency can sell add-ons: a top-level account with a connected Stripe. Connect this account's "
            "Stripe first (POST /api/v1/billing/stripe-connection/)."
        )
    return account


def require_sub_account(account):
    """The account's agency when the account is a sub-account that may buy; NotASubAccount (403) otherwise."""
    if account.parent_id is None:
        raise NotASubAccount(
            "Only a sub-account of an agency can buy add-ons or hold a OneBalance; this account has no agency."
        )
    agency = account.parent
    if agency.parent_id is not None or not has_usable_stripe(agency):
        raise NotASubAccount(
            "This account's parent is not an agency with a connected Stripe, so there is no store to buy from. "
            "Ask the agency to connect its Stripe."
        )
    return agency
