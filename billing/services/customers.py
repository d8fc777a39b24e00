"""The account's customers, written to its own Stripe then to the mirror (services/account_stripe.py)."""

from billing.services.account_stripe import account_client, idempotency_key, mirror_deleted, mirror_saved

# The customer fields the SPA may write, as Stripe names them.
CUSTOMER_FIELDS = ("email", "name", "phone", "description", "metadata")


def customer_create(*, account, fields: dict, request_id: str):
    obj = account_client(account=account).create(
        "/v1/customers",
        idempotency_key=idempotency_key(account=account, action="customer.create", request_id=request_id),
        **_stripe_params(fields),
    )
    return mirror_saved(account=account, obj=obj)


def customer_update(*, account, customer, fields: dict):
    obj = account_client(account=account).update("/v1/customers", customer.stripe_id, **_stripe_params(fields))
    return mirror_saved(account=account, obj=obj)


def customer_delete(*, account, customer) -> None:
    obj = account_client(account=account).delete("/v1/customers", customer.stripe_id)
    mirror_deleted(account=account, obj={"object": "customer", **obj, "id": customer.stripe_id})


def _stripe_params(fields: dict) -> dict:
    # The SDK form-encodes nested dicts as Stripe expects (metadata[key]=value; an empty value removes the key).
    return {name: fields[name] for name in CUSTOMER_FIELDS if name in fields}
