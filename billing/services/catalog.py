"""The account's catalogue, written to its own Stripe then to the mirror (services/account_stripe.py).

Products are created, updated, archived (`active=false`) and deleted only while they have no prices (Stripe
refuses otherwise: archive instead). Prices are immutable in Stripe where it matters (amount, currency,
interval): changing one creates a new price on the same product and then archives the old one, in that order,
so a failure between the two leaves the old price active and the new one visible (`price_update`)."""

from billing.models import Price
from billing.services.account_stripe import account_client, idempotency_key, mirror_deleted, mirror_saved
from core.errors import Conflict, InvalidInput, StripeError

PRODUCT_FIELDS = ("name", "description", "metadata", "active")
# What Stripe lets us change on a price in place; anything else needs a new price.
PRICE_MUTABLE_FIELDS = ("nickname", "metadata", "active", "lookup_key")
PRICE_DEFINING_FIELDS = ("currency", "unit_amount", "recurring")


# --- products ------------------------------------------------------------------------------------------------


def product_create(*, account, fields: dict, request_id: str):
    obj = account_client(account=account).create(
        "/v1/products",
        idempotency_key=idempotency_key(account=account, action="product.create", request_id=request_id),
        **_only(fields, PRODUCT_FIELDS),
    )
    return mirror_saved(account=account, obj=obj)


def product_update(*, account, product, fields: dict):
    obj = account_client(account=account).update("/v1/products", product.stripe_id, **_only(fields, PRODUCT_FIELDS))
    return mirror_saved(account=account, obj=obj)


def product_archive(*, account, product):
    """Archived (`active=false`): no longer offered for new purchases; its prices and subscriptions go on."""
    return product_update(account=account, product=product, fields={"active": False})


def product_delete(*, account, product) -> None:
    """Only a product without prices (Stripe keeps prices forever, and refuses to delete their product). The
    mirror is asked first for a message the SPA can act on; Stripe's own refusal (a price the mirror has not
    seen yet) is a 422."""
    price = Price.objects.for_account(account).filter(product_stripe_id=product.stripe_id).first()
    if price is not None:
        raise Conflict(
            f"Product {product.stripe_id} has prices ({price.stripe_id}, ...) and cannot be deleted: archive it "
            f"instead (POST products/{product.stripe_id}/archive/).",
            code="product_has_prices",
        )
    obj = account_client(account=account).delete("/v1/products", product.stripe_id)
    mirror_deleted(account=account, obj={"object": "product", **obj, "id": product.stripe_id})


# --- prices --------------------------------------------------------------------------------------------------


def price_create(*, account, fields: dict, request_id: str):
    params = _only(fields, ("product", *PRICE_DEFINING_FIELDS, "nickname", "lookup_key", "metadata"))
    obj = account_client(account=account).create(
        "/v1/prices",
        idempotency_key=idempotency_key(account=account, action="price.create", request_id=request_id),
        **params,
    )
    return mirror_saved(account=account, obj=obj)


def price_archive(*, account, price):
    obj = account_client(account=account).update("/v1/prices", price.stripe_id, active=False)
    return mirror_saved(account=account, obj=obj)


def price_update(*, account, price, fields: dict, request_id: str):
    """Answers `(price, created)`. Nickname, metadata, active and lookup key change in place (`created` False).
    A different amount, currency or recurrence makes a new price (`created` True): same product, the old one's
    nickname, metadata (merged with the new) and lookup key (transferred), then the old price is archived.

    The new price is created with an idempotency key from the client's request id, so repeating the request
    (same `request_id`) after a failure finds the same new price and only retries the archiving. If archiving
    fails, the new price exists and is mirrored, the old one stays active, and the error (502, or Stripe's 422)
    carries code `price_change_incomplete` and both ids."""
    wanted = _definition(price, fields)
    if wanted == _definition(price, {}):
        in_place = _only(fields, PRICE_MUTABLE_FIELDS)
        if not in_place:
            return price, False
        obj = account_client(account=account).update("/v1/prices", price.stripe_id, **in_place)
        return mirror_saved(account=account, obj=obj), False
    return _price_change(account=account, price=price, fields=fields, wanted=wanted, request_id=request_id), True


def _price_change(*, account, price, fields: dict, wanted: dict, request_id: str):
    if wanted["unit_amount"] is None:
        raise InvalidInput(
            f"Price {price.stripe_id} has no unit amount (tiered or custom): give `unit_amount` for the new price.",
            details={"fields": {"unit_amount": ["Required to change this price."]}},
        )
    client = account_client(account=account)
    data = price.data or {}
    params = {
        "product": price.product_stripe_id,
        "currency": wanted["currency"],
        "unit_amount": wanted["unit_amount"],
        "recurring": wanted["recurring"],  # None: a one-time price (the client drops None)
        "active": fields.get("active", True),
        "metadata": _merged_metadata(data.get("metadata") or {}, fields.get("metadata") or {}) or None,
    }
    nickname = fields.get("nickname", price.nickname)
    if nickname:
        params["nickname"] = nickname
    lookup_key = fields.get("lookup_key", price.lookup_key)
    if lookup_key:
        params["lookup_key"] = lookup_key
        # The old price's key moves to the new one (Stripe does it with the create); another price's is refused.
        params["transfer_lookup_key"] = lookup_key == price.lookup_key
    if data.get("tax_behavior") not in (None, "", "unspecified"):
        params["tax_behavior"] = data["tax_behavior"]
    created = client.create(
        "/v1/prices",
        idempotency_key=idempotency_key(
            account=account, action=f"price.change:{price.stripe_id}", request_id=request_id
        ),
        **params,
    )
    new_price = mirror_saved(account=account, obj=created)
    try:
        archived = client.update(
            "/v1/prices",
            price.stripe_id,
            idempotency_key=idempotency_key(
                account=account, action=f"price.change.archive:{price.stripe_id}", request_id=request_id
            ),
            active=False,
        )
    except StripeError as exc:
        raise type(exc)(
            f"The new price {new_price.stripe_id} was created, but archiving the old price {price.stripe_id} "
            f"failed, so both are active: {exc.message} Repeat the same request (same request_id) or archive "
            f"{price.stripe_id}.",
            code="price_change_incomplete",
            details={
                "new_price": new_price.stripe_id,
                "old_price": price.stripe_id,
                "stripe_error": exc.code,
                **exc.details,
            },
        ) from None
    mirror_saved(account=account, obj=archived)
    return new_price


def _definition(price, fields: dict) -> dict:
    """What makes a price: its currency, amount and recurrence, with the request's changes applied."""
    if "recurring" in fields:
        asked = fields["recurring"]
        recurring = asked and {"interval": asked["interval"], "interval_count": asked.get("interval_count") or 1}
    elif price.type == "recurring":
        recurring = {"interval": price.recurring_interval, "interval_count": price.recurring_interval_count or 1}
    else:
        recurring = None
    if recurring and ((price.data or {}).get("recurring") or {}).get("usage_type") == "metered":
        recurring["usage_type"] = "metered"  # a metered price's successor is metered too
    return {
        "currency": fields.get("currency", price.currency),
        "unit_amount": fields.get("unit_amount", price.unit_amount),
        "recurring": recurring or None,
    }


def _merged_metadata(current: dict, changes: dict) -> dict:
    """Stripe's rule for a metadata update (an empty value removes the key), applied to a new object's."""
    merged = {**current, **changes}
    return {key: value for key, value in merged.items() if value != ""}


def _only(fields: dict, names: tuple[str, ...]) -> dict:
    # The SDK form-encodes nested dicts as Stripe expects (metadata[key]=value; an empty value removes the key).
    return {name: fields[name] for name in names if name in fields}
