"""An agency's store: add-on products and prices, created in the agency's own Stripe first (with an
idempotency key from the client's request id), then kept here. Setup fees are one-time prices on the store's
setup product (the seed's SETUP_PRODUCT), created once per agency."""

from django.db import IntegrityError, transaction

from billing.services.account_stripe import mirror_saved
from core.errors import InvalidInput
from marketplace.models import Store, StorePrice, StoreProduct
from marketplace.roles import require_agency
from marketplace.services.stripe_access import agency_client, agency_key

SETUP_PRODUCT_NAME = "Setup fee"


def store_product_create(*, agency, name: str, description: str = "", request_id: str) -> StoreProduct:
    require_agency(agency)
    params = {"name": name, "metadata": {"marketplace": "addon"}}
    if description:
        params["description"] = description
    obj = agency_client(agency=agency).create(
        "/v1/products", idempotency_key=agency_key(agency=agency, action="product", request_id=request_id), **params
    )
    mirror_saved(account=agency, obj=obj)  # the agency's catalogue mirror shows it at once too
    product, _ = StoreProduct.objects.get_or_create(
        agency=agency, stripe_id=obj["id"], defaults={"name": obj["name"], "description": description}
    )
    return product


def store_product_update(*, agency, product: StoreProduct, fields: dict) -> StoreProduct:
    """Name, description and `active` (false: no longer for sale; bought add-ons go on)."""
    require_agency(agency)
    changes = {key: fields[key] for key in ("name", "description", "active") if key in fields}
    if not changes:
        return product
    obj = agency_client(agency=agency).update("/v1/products", product.stripe_id, **changes)
    mirror_saved(account=agency, obj=obj)
    for key, value in changes.items():
        setattr(product, key, value)
    product.save(update_fields=[*changes, "updated_at"])
    return product


def store_price_create(
    *,
    agency,
    product: StoreProduct,
    currency: str,
    unit_amount: int,
    interval: str = "",
    interval_count: int = 1,
    nickname: str = "",
    setup_fee_amount: int | None = None,
    request_id: str,
) -> StorePrice:
    """A price of `product`; with `setup_fee_amount`, also a one-time price of that amount (same currency) on the
    store's setup product. Both creates carry keys from `request_id`: a repeated request makes neither twice."""
    require_agency(agency)
    if not product.active:
        raise InvalidInput(f"Product {product.stripe_id} is archived: restore it before adding prices.")
    client = agency_client(agency=agency)
    currency = currency.lower()
    params = {"product": product.stripe_id, "currency": currency, "unit_amount": unit_amount}
    if interval:
        params["recurring"] = {"interval": interval, "interval_count": interval_count}
    if nickname:
        params["nickname"] = nickname
    price = client.create(
        "/v1/prices", idempotency_key=agency_key(agency=agency, action="price", request_id=request_id), **params
    )
    mirror_saved(account=agency, obj=price)
    setup_fee_id = ""
    if setup_fee_amount:
        setup = client.create(
            "/v1/prices",
            idempotency_key=agency_key(agency=agency, action="price.setup_fee", request_id=request_id),
            product=_setup_product(agency=agency),
            currency=currency,
            unit_amount=setup_fee_amount,
            nickname=f"Setup fee: {product.name}"[:250],
        )
        setup_fee_id = setup["id"]
    row, _ = StorePrice.objects.get_or_create(
        agency=agency,
        stripe_id=price["id"],
        defaults={
            "product": product,
            "currency": currency,
            "unit_amount": unit_amount,
            "interval": interval,
            "interval_count": interval_count if interval else 1,
            "nickname": nickname,
            "setup_fee_amount": setup_fee_amount or None,
            "setup_fee_stripe_id": setup_fee_id,
        },
    )
    return row


def store_price_update(*, agency, price: StorePrice, fields: dict) -> StorePrice:
    """Only `active` and `nickname`: an amount is immutable in Stripe (create a new price instead)."""
    require_agency(agency)
    changes = {key: fields[key] for key in ("active", "nickname") if key in fields}
    if not changes:
        return price
    obj = agency_client(agency=agency).update("/v1/prices", price.stripe_id, **changes)
    mirror_saved(account=agency, obj=obj)
    for key, value in changes.items():
        setattr(price, key, value)
    price.save(update_fields=[*changes, "updated_at"])
    return price


def _setup_product(*, agency) -> str:
    """The store's setup product in the agency's Stripe, created once: the key is the agency's, so two first
    setup fees at once get the same product from Stripe."""
    store = Store.objects.filter(agency=agency).first()
    if store is not None and store.setup_product_stripe_id:
        return store.setup_product_stripe_id
    obj = agency_client(agency=agency).create(
        "/v1/products",
        idempotency_key=agency_key(agency=agency, action="setup_product", request_id=str(agency.pk)),
        name=SETUP_PRODUCT_NAME,
        metadata={"marketplace": "setup_fee"},
    )
    try:
        with transaction.atomic():
            Store.objects.update_or_create(agency=agency, defaults={"setup_product_stripe_id": obj["id"]})
    except IntegrityError:
        pass  # another request stored the same product (same idempotency key, same answer)
    return obj["id"]
