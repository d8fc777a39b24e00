"""The account as our customer in the platform's Stripe (SPEC §0): created once, on first need (a checkout for a plan
or an extras pack), with the account id in its metadata so that any platform event about it leads back here."""

from accounts.models import Account
from billing.stripe.client import StripeClient
from plans.models import AccountSubscription
from plans.services.defaults import account_subscription_ensure


def platform_customer_ensure(*, account: Account) -> str:
    """The account's platform Stripe customer id, created if it has none. Two requests at once send the same
    idempotency key, so Stripe answers both with one customer; the conditional update keeps the first id written.

    After `customer.deleted` cleared the id, the key changes (it names the last subscription-family event applied,
    the deletion itself), or Stripe would answer the deleted customer for 24 hours."""
    subscription = account_subscription_ensure(account=account)
    if subscription.stripe_customer_id:
        return subscription.stripe_customer_id
    key = f"platform:account:{account.pk}:customer"
    if subscription.last_subscription_event_id:
        key += f":after:{subscription.last_subscription_event_id}"
    customer = StripeClient.for_platform().create(
        "/v1/customers",
        idempotency_key=key,
        name=account.name,
        metadata={"account_id": str(account.pk)},
    )
    AccountSubscription.objects.filter(pk=subscription.pk, stripe_customer_id="").update(
        stripe_customer_id=customer["id"]
    )
    return AccountSubscription.objects.values_list("stripe_customer_id", flat=True).get(pk=subscription.pk)
