"""The agency's Stripe, and the idempotency keys of the marketplace's writes to it (the house pattern of
billing/services/account_stripe.py: scoped to the agency, the action and the client's request id)."""

from billing.services.account_stripe import account_client, idempotency_key


def agency_client(*, agency):
    return account_client(account=agency)


def agency_key(*, agency, action: str, request_id: str) -> str:
    return idempotency_key(account=agency, action=f"market.{action}", request_id=request_id)
