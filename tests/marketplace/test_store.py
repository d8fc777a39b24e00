"""The agency's store written to its own Stripe (SPEC §5): products, prices with a setup fee on the store's one
setup product, validation before anything is written, idempotent creates."""

import pytest

from marketplace.models import Store, StorePrice, StoreProduct
from tests.marketplace.conftest import create_price, create_product

pytestmark = pytest.mark.django_db
PRICES = "/api/v1/billing/store/prices/"


def test_a_product_is_created_in_the_agencys_stripe_and_kept(agency, agency_api, stripe):
    product = create_product(agency_api, name="Call tracking", description="A local number")

    in_stripe = stripe.get(f"/v1/products/{product['id']}")
    assert (in_stripe["name"], in_stripe["metadata"]["marketplace"]) == ("Call tracking", "addon")
    assert StoreProduct.objects.get(agency=agency).stripe_id == product["id"]


def test_the_same_request_id_creates_a_product_once(agency, agency_api, stripe):
    body = {"name": "Once", "request_id": "product-once-0001"}
    first = agency_api.post("/api/v1/billing/store/products/", body, format="json").json()
    second = agency_api.post("/api/v1/billing/store/products/", body, format="json").json()

    assert first["id"] == second["id"]
    assert StoreProduct.objects.count() == 1
    assert len([p for p in stripe.list_all("/v1/products") if p["name"] == "Once"]) == 1


def test_setup_fees_are_one_time_prices_on_the_stores_single_setup_product(agency, agency_api, stripe):
    product = create_product(agency_api)
    one_off = create_price(agency_api, product["id"], unit_amount=1500, setup_fee=2500)
    monthly = create_price(agency_api, product["id"], unit_amount=900, recurring={"interval": "month"}, setup_fee=100)

    assert one_off["setup_fee"]["amount"] == 2500 and one_off["type"] == "one_time"
    assert (monthly["type"], monthly["interval"], monthly["setup_fee"]["amount"]) == ("recurring", "month", 100)
    setup_product = Store.objects.get(agency=agency).setup_product_stripe_id
    for price in (one_off, monthly):
        fee = stripe.get(f"/v1/prices/{price['setup_fee']['price']}")
        assert (fee["product"], fee["type"], fee["currency"]) == (setup_product, "one_time", "usd")
    assert len([p for p in stripe.list_all("/v1/products") if p["name"] == "Setup fee"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit_amount": 0}, "unit_amount"),
        ({"currency": "dollars"}, "currency"),
        ({"recurring": {"interval": "fortnight"}}, "recurring"),
        ({"setup_fee": -5}, "setup_fee"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_price_is_a_400_naming_the_field_and_nothing_is_written(agency_api, stripe, body, field):
    product = create_product(agency_api)
    prices_before = len(stripe.list_all("/v1/prices"))

    response = agency_api.post(
        PRICES, {"product": product["id"], "currency": "usd", "unit_amount": 100, **body}, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]["fields"]
    assert not StorePrice.objects.exists()
    assert len(stripe.list_all("/v1/prices")) == prices_before


def test_a_price_on_another_agencys_product_is_a_404(agency_api, stripe):
    response = agency_api.post(
        PRICES, {"product": "prod_notours", "currency": "usd", "unit_amount": 100}, format="json"
    )
    assert response.status_code == 404
