"""Who may sell, buy and see what (SPEC §1, §5; issue 14): another account's object is a 404, a sub-account never
manages its agency's store, an account that is not an agency cannot sell (403 with a message)."""

import pytest

from marketplace.services.balance import balance_adjust
from tests.factories import AccountFactory
from tests.marketplace.conftest import client_for, create_price, create_product, save_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(agency_api):
    live = create_product(agency_api, name="Listing sync")
    retired = create_product(agency_api, name="Old add-on")
    price = create_price(agency_api, live["id"], unit_amount=700)
    agency_api.patch(f"/api/v1/billing/store/products/{retired['id']}/", {"active": False}, format="json")
    return {"product": live, "retired": retired, "price": price}


def test_a_sub_account_lists_what_it_may_buy_from_its_agency(sub_api, catalogue):
    products = sub_api.get("/api/v1/billing/store/products/").json()["results"]
    prices = sub_api.get("/api/v1/billing/store/prices/").json()["results"]

    assert [p["name"] for p in products] == ["Listing sync"]
    assert [(p["id"], p["unit_amount"], p["type"]) for p in prices] == [(catalogue["price"]["id"], 700, "one_time")]


def test_a_sub_account_cannot_see_its_agencys_store_admin_endpoints(sub_api, catalogue):
    product_id, price_id = catalogue["product"]["id"], catalogue["price"]["id"]
    for method, url, body in (
        ("get", f"/api/v1/billing/store/products/{product_id}/", None),
        ("patch", f"/api/v1/billing/store/products/{product_id}/", {"name": "Mine now"}),
        ("get", f"/api/v1/billing/store/prices/{price_id}/", None),
        ("patch", f"/api/v1/billing/store/prices/{price_id}/", {"active": False}),
    ):
        response = getattr(sub_api, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.content)
        assert response.json()["error"]["code"] == "not_found"


def test_a_sub_account_cannot_sell(sub_api, catalogue):
    response = sub_api.post("/api/v1/billing/store/products/", {"name": "Resold"}, format="json")

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "not_an_agency"
    assert "sub-accounts buy from their agency" in error["message"]


def test_a_top_level_account_without_stripe_is_not_an_agency_and_cannot_sell(db, stripe):
    plain = AccountFactory(name="No Stripe yet")
    response = client_for(plain).post("/api/v1/billing/store/products/", {"name": "Thing"}, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_an_agency"
    assert "Connect this account's Stripe" in response.json()["error"]["message"]


def test_a_member_who_is_not_an_admin_cannot_write_the_store_or_buy(agency, sub, catalogue):
    assert (
        client_for(agency, role="member")
        .post("/api/v1/billing/store/products/", {"name": "x"}, format="json")
        .status_code
        == 403
    )
    response = client_for(sub, role="member").post(
        "/api/v1/billing/store/purchases/",
        {"price_id": catalogue["price"]["id"], "purchase_request_id": "member-buys-1"},
        format="json",
    )
    assert response.status_code == 403


def test_another_sub_accounts_balance_and_purchases_are_a_404(sub, sub_api, other_sub, other_sub_api):
    balance_adjust(account=other_sub, amount=900, description="credit", user=None)

    for url in (
        f"/api/v1/billing/balance/?sub_account={other_sub.pk}",
        f"/api/v1/billing/store/purchases/?sub_account={other_sub.pk}",
        "/api/v1/billing/balance/?sub_account=not-a-uuid",
    ):
        response = sub_api.get(url)
        assert response.status_code == 404, (url, response.content)
    assert other_sub_api.get("/api/v1/billing/balance/").json()["balance"] == 900
    assert sub_api.get("/api/v1/billing/balance/").json()["balance"] == 0


def test_the_agency_sees_its_sub_accounts_balances_and_purchases(
    agency_api, sub, sub_api, other_sub, catalogue, stripe
):
    balance_adjust(account=sub, amount=1234, description="credit", user=None)
    save_card(sub_api, stripe)
    bought = sub_api.post(
        "/api/v1/billing/store/purchases/",
        {"price_id": catalogue["price"]["id"], "purchase_request_id": "agency-sees-1"},
        format="json",
    ).json()

    assert agency_api.get(f"/api/v1/billing/balance/?sub_account={sub.pk}").json()["balance"] == 1234
    balances = agency_api.get("/api/v1/billing/store/balances/").json()["results"]
    assert {(b["name"], b["balance"]) for b in balances} == {("Client A", 1234), ("Client B", 0)}
    sales = agency_api.get(f"/api/v1/billing/store/purchases/?sub_account={sub.pk}").json()["results"]
    assert [s["id"] for s in sales] == [bought["id"]]
    assert agency_api.get(f"/api/v1/billing/store/purchases/?sub_account={other_sub.pk}").json()["results"] == []
    # An account that is not the agency's sub-account, even a real one, is a 404 to the agency.
    stranger = AccountFactory()
    assert agency_api.get(f"/api/v1/billing/balance/?sub_account={stranger.pk}").status_code == 404


def test_an_agency_has_no_balance_of_its_own(agency_api, agency):
    response = agency_api.get("/api/v1/billing/balance/")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "not_a_sub_account")


def test_a_price_that_is_not_for_sale_is_a_404_to_the_buyer(sub_api, catalogue, agency_api, stripe):
    save_card(sub_api, stripe)
    agency_api.patch(f"/api/v1/billing/store/prices/{catalogue['price']['id']}/", {"active": False}, format="json")

    response = sub_api.post(
        "/api/v1/billing/store/purchases/",
        {"price_id": catalogue["price"]["id"], "purchase_request_id": "archived-1"},
        format="json",
    )
    assert response.status_code == 404


def test_buying_without_a_saved_card_is_a_409_that_says_what_to_do(sub_api, catalogue):
    response = sub_api.post(
        "/api/v1/billing/store/purchases/",
        {"price_id": catalogue["price"]["id"], "purchase_request_id": "no-card-1"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_payment_method"
    from marketplace.models import Purchase

    assert not Purchase.objects.exists()  # nothing half-written


def test_listing_purchases_and_balances_costs_the_same_queries_for_more_rows(
    agency, agency_api, sub, other_sub, catalogue
):
    from marketplace.models import Purchase, StorePrice

    price = StorePrice.objects.get(stripe_id=catalogue["price"]["id"])

    def add(n):
        for i in range(n):
            buyer = sub if i % 2 else other_sub
            Purchase.objects.create(
                buyer=buyer,
                agency=agency,
                price=price,
                purchase_request_id=f"bulk-{Purchase.objects.count()}",
                kind="one_off",
                currency="usd",
                amount=700,
            )
            balance_adjust(account=buyer, amount=10, description="credit", user=None)

    add(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for more in (0, 8):
        add(more)
        with CaptureQueriesContext(connection) as queries:
            assert agency_api.get("/api/v1/billing/store/purchases/").status_code == 200
            assert agency_api.get("/api/v1/billing/store/balances/").status_code == 200
            assert agency_api.get(f"/api/v1/billing/balance/?sub_account={sub.pk}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
