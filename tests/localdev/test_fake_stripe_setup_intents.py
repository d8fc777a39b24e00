"""The local Stripe's SetupIntents save their card on their customer, as Stripe does (setup_intents.py)."""

import pytest

from tests.billing.stripe_seed import CARD, Stripe


@pytest.fixture
def stripe(stripe_api_base):
    return Stripe(stripe_api_base)


def test_a_confirmed_setup_intent_attaches_its_card_to_the_customer(stripe):
    customer = stripe.post("/v1/customers", email="saver@example.com")
    intent = stripe.post("/v1/setup_intents", customer=customer["id"], usage="off_session")
    method = stripe.post("/v1/payment_methods", type="card", card=CARD)

    confirmed = stripe.post(f"/v1/setup_intents/{intent['id']}/confirm", payment_method=method["id"])

    assert (confirmed["status"], confirmed["payment_method"]) == ("succeeded", method["id"])
    assert stripe.get(f"/v1/payment_methods/{method['id']}")["customer"] == customer["id"]
    listed = stripe.get("/v1/payment_methods", customer=customer["id"], type="card")["data"]
    assert [m["id"] for m in listed] == [method["id"]]


def test_a_card_declined_on_setup_is_not_saved(stripe):
    customer = stripe.post("/v1/customers", email="declined@example.com")
    intent = stripe.post("/v1/setup_intents", customer=customer["id"])
    method = stripe.post("/v1/payment_methods", type="card", card={**CARD, "number": "4000000000000002"})

    with pytest.raises(Exception, match="declined"):  # noqa: B017 - the SDK's CardError, Stripe's 402
        stripe.post(f"/v1/setup_intents/{intent['id']}/confirm", payment_method=method["id"])
    assert stripe.get(f"/v1/payment_methods/{method['id']}")["customer"] is None


def test_a_setup_intent_without_a_customer_saves_nothing(stripe):
    intent = stripe.post("/v1/setup_intents")
    method = stripe.post("/v1/payment_methods", type="card", card=CARD)

    assert (
        stripe.post(f"/v1/setup_intents/{intent['id']}/confirm", payment_method=method["id"])["status"] == "succeeded"
    )
    assert stripe.get(f"/v1/payment_methods/{method['id']}")["customer"] is None
