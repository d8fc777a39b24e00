"""Reads of one customer's objects in the mirror (its invoices, payment methods, subscriptions), for the SPA's
`customers/<id>/...` lists. The customer is found in the token's account first (selectors/mirror.py); an
object of another customer, or of another account, is not found under this one."""

from billing.models import Customer
from billing.selectors.mirror import mirror_get, mirror_list
from core.errors import NotFound


def customer_get(*, account, stripe_id: str) -> Customer:
    return mirror_get(account=account, model=Customer, stripe_id=stripe_id)


def customer_object_list(*, account, customer: Customer, model):
    """The customer's live objects of one mirrored type (Invoice, PaymentMethod, Subscription). By the customer's
    Stripe id, not the foreign key: an object mirrored before its customer has no key yet, but has the id."""
    return mirror_list(account=account, model=model).filter(customer_stripe_id=customer.stripe_id)


def customer_object_get(*, account, customer: Customer, model, stripe_id: str):
    row = customer_object_list(account=account, customer=customer, model=model).filter(stripe_id=stripe_id).first()
    if row is None:
        raise NotFound(f"No {model._meta.verbose_name} {stripe_id} of customer {customer.stripe_id}.")
    return row
