"""Reading a store: an agency sees all of its own; a sub-account sees what its agency offers for sale now."""

from core.errors import NotFound
from marketplace.models import StorePrice, StoreProduct
from marketplace.roles import require_agency


def store_products(*, account):
    if account.parent_id is None:
        return StoreProduct.objects.filter(agency=account)
    return StoreProduct.objects.filter(agency_id=account.parent_id, active=True)


def store_prices(*, account):
    rows = StorePrice.objects.select_related("product")
    if account.parent_id is None:
        return rows.filter(agency=account)
    return rows.filter(agency_id=account.parent_id, active=True, product__active=True)


def store_product_get(*, agency, stripe_id: str) -> StoreProduct:
    """An agency's own product; a 404 for anyone else's (a sub-account never manages its agency's store)."""
    product = (
        StoreProduct.objects.filter(agency=agency, stripe_id=stripe_id).first() if agency.parent_id is None else None
    )
    if product is None:
        raise NotFound(f"No product {stripe_id} in this account's store.")
    return product


def store_price_get(*, agency, stripe_id: str) -> StorePrice:
    price = (
        StorePrice.objects.select_related("product").filter(agency=agency, stripe_id=stripe_id).first()
        if agency.parent_id is None
        else None
    )
    if price is None:
        raise NotFound(f"No price {stripe_id} in this account's store.")
    return price


def store_product_for_new_price(*, agency, stripe_id: str) -> StoreProduct:
    """The product a new price goes on: the seller must be an agency (403) and own it (404)."""
    require_agency(agency)
    return store_product_get(agency=agency, stripe_id=stripe_id)
