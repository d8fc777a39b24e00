"""The local Stripe's catalogue behaves as Stripe's where our catalogue API relies on it: products' updates read
booleans and remove metadata keys sent empty, a product with prices cannot be deleted, a price's currency must be
one Stripe supports."""

import pytest
import stripe

from tests.harness.stripe_fixtures import stripe_sdk_client


@pytest.fixture
def client(stripe_api_base) -> stripe.StripeClient:
    return stripe_sdk_client(stripe_api_base)


def test_product_update_reads_booleans_and_removes_empty_metadata_keys(client):
    product = client.v1.products.create({"name": "Pro", "description": "d", "metadata": {"a": "1", "b": "2"}})

    updated = client.v1.products.update(product.id, {"active": False, "metadata": {"a": ""}, "description": ""})

    assert updated.active is False and updated.description is None and updated.metadata.to_dict() == {"b": "2"}
    assert client.v1.products.retrieve(product.id).active is False


def test_product_update_refuses_what_stripe_refuses(client):
    product = client.v1.products.create({"name": "Pro"})
    with pytest.raises(stripe.InvalidRequestError) as empty_name:
        client.v1.products.update(product.id, {"name": ""})
    assert "'name' cannot be unset" in str(empty_name.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.products.update(product.id, {"colour": "red"})
    assert unknown.value.code == "parameter_unknown"
    assert client.v1.products.retrieve(product.id).name == "Pro"


def test_a_product_with_prices_cannot_be_deleted(client):
    bare = client.v1.products.create({"name": "Bare"})
    priced = client.v1.products.create({"name": "Priced"})
    client.v1.prices.create({"product": priced.id, "currency": "usd", "unit_amount": 100})

    assert client.v1.products.delete(bare.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.products.delete(priced.id)
    assert "has one or more user-created prices" in str(refused.value.user_message)
    assert client.v1.products.retrieve(priced.id).id == priced.id


def test_a_price_in_a_currency_stripe_does_not_support_is_refused(client):
    product = client.v1.products.create({"name": "Pro"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.prices.create({"product": product.id, "currency": "zzz", "unit_amount": 100})
    assert refused.value.param == "currency" and "Invalid currency: zzz" in str(refused.value.user_message)
    assert client.v1.prices.create({"product": product.id, "currency": "JPY", "unit_amount": 100}).currency == "jpy"
