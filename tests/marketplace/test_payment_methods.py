"""The sub-account as its agency's customer (created once) and its saved cards."""

import pytest

from marketplace.models import StoreCustomer
from tests.marketplace.conftest import save_card

pytestmark = pytest.mark.django_db
METHODS = "/api/v1/billing/store/payment-methods/"


def test_the_sub_account_becomes_the_agencys_customer_once(sub, sub_api, stripe):
    first = sub_api.post(METHODS + "setup/", format="json").json()
    second = sub_api.post(METHODS + "setup/", format="json").json()

    customer = StoreCustomer.objects.get(sub_account=sub)
    assert first["customer"] == second["customer"] == customer.stripe_customer_id
    assert first["client_secret"].startswith(first["id"] + "_secret_")
    in_stripe = stripe.get(f"/v1/customers/{customer.stripe_customer_id}")
    assert in_stripe["metadata"]["sub_account_id"] == str(sub.pk)


def test_saved_cards_are_listed_and_one_is_the_default(sub_api, stripe):
    assert sub_api.get(METHODS).json()["results"] == []
    older = save_card(sub_api, stripe)
    newer = save_card(sub_api, stripe)

    cards = sub_api.get(METHODS).json()["results"]
    assert {c["id"] for c in cards} == {older, newer}
    # None chosen yet: one of them (the newest; these two were saved in the same second) is the default.
    assert len([c for c in cards if c["is_default"]]) == 1
    assert cards[0]["last4"] == "4242"

    chosen = sub_api.post(METHODS + "default/", {"payment_method_id": older}, format="json")
    assert chosen.status_code == 200
    assert [c["id"] for c in chosen.json()["results"] if c["is_default"]] == [older]
    assert [c["id"] for c in sub_api.get(METHODS).json()["results"] if c["is_default"]] == [older]


def test_another_customers_card_cannot_be_made_the_default(sub_api, other_sub_api, stripe):
    theirs = save_card(other_sub_api, stripe)
    save_card(sub_api, stripe)

    response = sub_api.post(METHODS + "default/", {"payment_method_id": theirs}, format="json")
    assert response.status_code == 404


def test_an_agency_has_no_cards_here(agency_api):
    response = agency_api.post(METHODS + "setup/", format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "not_a_sub_account")
