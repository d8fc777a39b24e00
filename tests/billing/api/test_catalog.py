"""The account's catalogue through the SPA's API (SPEC §4): products and prices written to the local Stripe first,
then to the mirror; a price change makes a new price and archives the old one, in that order; another account's
object is a 404; Stripe's refusals are 422s with its reason, its failures 502s with nothing written."""

import pytest

from billing.models import Price, Product
from billing.stripe.mirror import upsert_objects
from tests.billing.stripe_objects import today

pytestmark = pytest.mark.django_db(transaction=True)

PRODUCTS = "/api/v1/billing/products/"
PRICES = "/api/v1/billing/prices/"


def _product(api, **fields) -> dict:
    response = api.post(PRODUCTS, {"name": "Growth", **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _price(api, product_id: str, **fields) -> dict:
    body = {"product": product_id, "currency": "eur", "unit_amount": 4900, **fields}
    response = api.post(PRICES, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- products ------------------------------------------------------------------------------------------------


def test_product_create_writes_stripe_then_the_mirror(api, live, stripe):
    response = api.post(
        PRODUCTS, {"name": "Growth", "description": "For teams", "metadata": {"tier": "2"}}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("prod_") and body["active"] is True and body["metadata"] == {"tier": "2"}
    in_stripe = stripe.get(f"/v1/products/{body['id']}")
    assert (in_stripe["name"], in_stripe["description"]) == ("Growth", "For teams")
    row = Product.objects.get(account=live, stripe_id=body["id"])
    assert row.name == "Growth" and row.last_event_created is not None
    assert api.get(f"{PRODUCTS}{body['id']}/").json()["description"] == "For teams"


def test_the_same_request_id_creates_one_product(api, live, stripe):
    first = api.post(PRODUCTS, {"name": "A", "request_id": "req-p"}, format="json")
    second = api.post(PRODUCTS, {"name": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="req-p")

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(stripe.list_all("/v1/products")) == 1


def test_product_update_and_archive(api, live, stripe):
    product = _product(api, description="old", metadata={"a": "1", "b": "2"})

    updated = api.patch(
        f"{PRODUCTS}{product['id']}/", {"name": "Scale", "description": "", "metadata": {"a": ""}}, format="json"
    )
    assert updated.status_code == 200, updated.content
    assert (updated.json()["name"], updated.json()["description"], updated.json()["metadata"]) == (
        "Scale",
        "",
        {"b": "2"},
    )
    assert stripe.get(f"/v1/products/{product['id']}")["metadata"] == {"b": "2"}

    archived = api.post(f"{PRODUCTS}{product['id']}/archive/")
    assert archived.status_code == 200 and archived.json()["active"] is False
    assert stripe.get(f"/v1/products/{product['id']}")["active"] is False
    assert Product.objects.get(stripe_id=product["id"]).active is False
    assert [p["id"] for p in api.get(PRODUCTS, {"active": "false"}).json()["results"]] == [product["id"]]
    assert api.get(PRODUCTS, {"active": "true"}).json()["results"] == []

    restored = api.patch(f"{PRODUCTS}{product['id']}/", {"active": True}, format="json")
    assert restored.json()["active"] is True and stripe.get(f"/v1/products/{product['id']}")["active"] is True


def test_a_product_without_prices_is_deleted_one_with_prices_is_a_409(api, live, stripe):
    bare, priced = _product(api, name="Bare"), _product(api, name="Priced")
    price = _price(api, priced["id"])

    assert api.delete(f"{PRODUCTS}{bare['id']}/").status_code == 204
    assert Product.objects.get(stripe_id=bare["id"]).deleted
    assert api.get(f"{PRODUCTS}{bare['id']}/").status_code == 404

    refused = api.delete(f"{PRODUCTS}{priced['id']}/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "product_has_prices"
    assert price["id"] in refused.json()["error"]["message"] and "archive" in refused.json()["error"]["message"]
    assert stripe.get(f"/v1/products/{priced['id']}")["id"] == priced["id"]
    assert not Product.objects.get(stripe_id=priced["id"]).deleted


def test_stripe_refuses_to_delete_a_product_whose_price_the_mirror_has_not_seen(api, live, stripe):
    product = _product(api)
    stripe.post("/v1/prices", product=product["id"], currency="usd", unit_amount=100)  # made in the dashboard

    response = api.delete(f"{PRODUCTS}{product['id']}/")

    assert response.status_code == 422 and response.json()["error"]["code"] == "stripe_rejected"
    assert "one or more user-created prices" in response.json()["error"]["message"]
    assert not Product.objects.get(stripe_id=product["id"]).deleted


def test_product_bad_bodies_are_400s_naming_fields(api, live, stripe):
    for body, fields in (
        ({"description": "no name"}, {"name"}),
        ({"name": "x", "nmae": "typo"}, {"nmae"}),
        ({"name": "x", "metadata": {"k": "v" * 501}}, {"metadata"}),
        ({"name": "x" * 256}, {"name"}),
    ):
        response = api.post(PRODUCTS, body, format="json")
        assert response.status_code == 400, body
        assert fields <= set(response.json()["error"]["details"]["fields"]), body
    product = _product(api)
    for body, field in (({"active": "maybe"}, "active"), ({"request_id": "x"}, "request_id"), ({"name": ""}, "name")):
        response = api.patch(f"{PRODUCTS}{product['id']}/", body, format="json")
        assert response.status_code == 400 and field in response.json()["error"]["details"]["fields"], body
    assert len(stripe.list_all("/v1/products")) == 1


def test_stripe_refusing_a_product_write_is_a_422_with_its_reason(api, live, stripe):
    upsert_objects(live, "product", [today("product", id="prod_ghost", name="Ghost")])  # gone from Stripe

    for response in (
        api.patch(f"{PRODUCTS}prod_ghost/", {"name": "x"}, format="json"),
        api.post(f"{PRODUCTS}prod_ghost/archive/"),
        api.delete(f"{PRODUCTS}prod_ghost/"),
    ):
        assert response.status_code == 422, response.content
        assert "No such product: 'prod_ghost'" in response.json()["error"]["message"]
    row = Product.objects.get(stripe_id="prod_ghost")
    assert (row.name, row.active, row.deleted) == ("Ghost", True, False)


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_stripe_down_during_product_writes_is_a_502_and_nothing_is_written(
    api, live, stripe, stripe_server, settings, fault
):
    product = _product(api, name="Kept")
    settings.STRIPE_TIMEOUT_SECONDS = 0.5

    def arm(path, method="POST"):
        if fault == "timeout":
            stripe_server.hang_next(path, seconds=5, method=method)
        else:
            stripe_server.fail_next(path, 500, method=method)

    arm("/v1/products")
    created = api.post(PRODUCTS, {"name": "Lost"}, format="json")
    arm(f"/v1/products/{product['id']}")
    archived = api.post(f"{PRODUCTS}{product['id']}/archive/")
    arm(f"/v1/products/{product['id']}")
    updated = api.patch(f"{PRODUCTS}{product['id']}/", {"name": "Renamed"}, format="json")
    arm(f"/v1/products/{product['id']}", method="DELETE")
    deleted = api.delete(f"{PRODUCTS}{product['id']}/")

    for response in (created, archived, updated, deleted):
        assert response.status_code == 502 and response.json()["error"]["code"] == "stripe_unavailable"
    assert list(Product.objects.values_list("name", "active", "deleted")) == [("Kept", True, False)]


def test_another_accounts_product_is_a_404(api, live, other_account):
    upsert_objects(other_account, "product", [today("product", id="prod_theirs", name="Theirs")])

    assert api.get(f"{PRODUCTS}prod_theirs/").status_code == 404
    assert api.patch(f"{PRODUCTS}prod_theirs/", {"name": "mine"}, format="json").status_code == 404
    assert api.post(f"{PRODUCTS}prod_theirs/archive/").status_code == 404
    assert api.delete(f"{PRODUCTS}prod_theirs/").status_code == 404
    assert api.get(PRODUCTS).json()["results"] == []


def test_members_read_the_catalogue_and_only_admins_write_it(member_api, live):
    upsert_objects(live, "product", [today("product", id="prod_1")])
    upsert_objects(live, "price", [today("price", id="price_1", product="prod_1")])

    assert member_api.get(PRODUCTS).status_code == 200 and member_api.get(PRICES).status_code == 200
    for response in (
        member_api.post(PRODUCTS, {"name": "x"}, format="json"),
        member_api.patch(f"{PRODUCTS}prod_1/", {"name": "x"}, format="json"),
        member_api.post(f"{PRODUCTS}prod_1/archive/"),
        member_api.delete(f"{PRODUCTS}prod_1/"),
        member_api.post(PRICES, {"product": "prod_1", "currency": "usd", "unit_amount": 1}, format="json"),
        member_api.patch(f"{PRICES}price_1/", {"unit_amount": 2}, format="json"),
        member_api.post(f"{PRICES}price_1/archive/"),
    ):
        assert response.status_code == 403


def test_no_connection_is_a_409(api, account):
    response = api.post(PRODUCTS, {"name": "x"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stripe_not_connected"


def test_product_filters_search_and_ordering(api, live):
    upsert_objects(
        live,
        "product",
        [
            today(
                "product",
                id=f"prod_{i:02d}",
                name=f"{'Gold' if i % 3 == 0 else 'Plan'} {i}",
                created=1_700_000_000 + i,
                active=i % 2 == 0,
            )
            for i in range(10)
        ],
    )

    def ids(params):
        response = api.get(PRODUCTS, params)
        assert response.status_code == 200, response.content
        return [p["id"] for p in response.json()["results"]]

    assert ids({"search": "gold"}) == ["prod_09", "prod_06", "prod_03", "prod_00"]
    assert ids({"search": "prod_04"}) == ["prod_04"]
    assert ids({"search": "gold", "active": "true"}) == ["prod_06", "prod_00"]
    assert ids({"ordering": "name", "page_size": 3}) == ["prod_00", "prod_03", "prod_06"]
    assert ids({"created_after": "2023-11-14T22:13:28Z"}) == ["prod_09", "prod_08"]
    assert api.get(PRODUCTS, {"active": "yes"}).status_code == 400
    assert api.get(PRODUCTS, {"ordering": "price"}).status_code == 400


# --- prices --------------------------------------------------------------------------------------------------


def test_price_create_one_time_and_recurring(api, live, stripe):
    product = _product(api)

    one_time = _price(api, product["id"], currency="EUR", nickname="Launch", metadata={"k": "v"})
    monthly = _price(
        api, product["id"], currency="usd", unit_amount=1900, recurring={"interval": "month", "interval_count": 3}
    )

    assert (one_time["type"], one_time["recurring"], one_time["currency"], one_time["unit_amount"]) == (
        "one_time",
        None,
        "eur",
        4900,
    )
    assert (
        one_time["product"] == product["id"] and one_time["nickname"] == "Launch" and one_time["metadata"] == {"k": "v"}
    )
    assert monthly["type"] == "recurring" and monthly["recurring"] == {"interval": "month", "interval_count": 3}
    in_stripe = stripe.get(f"/v1/prices/{monthly['id']}")
    assert (in_stripe["unit_amount"], in_stripe["recurring"]["interval_count"]) == (1900, 3)
    row = Price.objects.get(account=live, stripe_id=monthly["id"])
    assert (row.product_stripe_id, row.recurring_interval, row.unit_amount) == (product["id"], "month", 1900)
    assert api.get(f"{PRICES}{monthly['id']}/").json() == monthly


def test_the_same_request_id_creates_one_price(api, live, stripe):
    product = _product(api)
    body = {"product": product["id"], "currency": "usd", "unit_amount": 100, "request_id": "req-price"}

    first, second = (api.post(PRICES, body, format="json") for _ in range(2))

    assert first.status_code == second.status_code == 201 and first.json()["id"] == second.json()["id"]
    assert len(stripe.list_all("/v1/prices")) == 1


def test_stripe_refusing_a_price_is_a_422_with_its_reason(api, live, stripe):
    product = _product(api)

    missing = api.post(PRICES, {"product": "prod_nope", "currency": "usd", "unit_amount": 100}, format="json")
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "stripe_rejected"
    assert "No such product: 'prod_nope'" in missing.json()["error"]["message"]

    currency = api.post(PRICES, {"product": product["id"], "currency": "zzz", "unit_amount": 100}, format="json")
    assert currency.status_code == 422 and "Invalid currency: zzz" in currency.json()["error"]["message"]
    assert currency.json()["error"]["details"]["param"] == "currency"
    assert not Price.objects.exists() and stripe.list_all("/v1/prices") == []


def test_price_bad_bodies_are_400s_naming_fields(api, live, stripe):
    for body, fields in (
        ({"currency": "usd", "unit_amount": 1}, {"product"}),
        ({"product": "prod_1", "currency": "dollars", "unit_amount": 1}, {"currency"}),
        ({"product": "prod_1", "currency": "usd", "unit_amount": -1}, {"unit_amount"}),
        ({"product": "prod_1", "currency": "usd", "unit_amount": 1.5}, {"unit_amount"}),
        ({"product": "prod_1", "currency": "usd", "unit_amount": 100_000_000}, {"unit_amount"}),
        ({"product": "prod/../x", "currency": "usd", "unit_amount": 1}, {"product"}),
        (
            {"product": "prod_1", "currency": "usd", "unit_amount": 1, "recurring": {"interval": "fortnight"}},
            {"recurring"},
        ),
        (
            {"product": "prod_1", "currency": "usd", "unit_amount": 1, "recurring": {"interval": "week", "every": 2}},
            {"recurring"},
        ),
        ({"product": "prod_1", "currency": "usd", "unit_amount": 1, "amount": 1}, {"amount"}),
    ):
        response = api.post(PRICES, body, format="json")
        assert response.status_code == 400, body
        assert fields <= set(response.json()["error"]["details"]["fields"]), (body, response.json())
    assert stripe.list_all("/v1/prices") == []


def test_nickname_metadata_active_and_lookup_key_change_in_place(api, live, stripe):
    price = _price(api, _product(api)["id"], metadata={"a": "1"})

    response = api.patch(
        f"{PRICES}{price['id']}/",
        {"nickname": "Early bird", "metadata": {"a": "", "b": "2"}, "lookup_key": "early"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == price["id"] and (body["nickname"], body["metadata"], body["lookup_key"]) == (
        "Early bird",
        {"b": "2"},
        "early",
    )
    assert stripe.get(f"/v1/prices/{price['id']}")["nickname"] == "Early bird"
    # The same amount, currency and recurrence sent back is no change either.
    same = api.patch(
        f"{PRICES}{price['id']}/", {"unit_amount": 4900, "currency": "EUR", "recurring": None}, format="json"
    )
    assert same.status_code == 200 and same.json()["id"] == price["id"]
    assert len(stripe.list_all("/v1/prices")) == 1


def test_a_new_amount_makes_a_new_price_and_archives_the_old(api, live, stripe):
    product = _product(api)
    old = _price(
        api,
        product["id"],
        recurring={"interval": "year"},
        nickname="Yearly",
        lookup_key="growth-yearly",
        metadata={"k": "v"},
    )

    response = api.patch(f"{PRICES}{old['id']}/", {"unit_amount": 5900, "metadata": {"v": "2"}}, format="json")

    assert response.status_code == 201, response.content
    new = response.json()
    assert new["id"] != old["id"] and new["active"] is True
    assert (new["product"], new["currency"], new["unit_amount"], new["recurring"]) == (
        product["id"],
        "eur",
        5900,
        {"interval": "year", "interval_count": 1},
    )
    assert (new["nickname"], new["lookup_key"], new["metadata"]) == ("Yearly", "growth-yearly", {"k": "v", "v": "2"})
    old_in_stripe = stripe.get(f"/v1/prices/{old['id']}")
    assert old_in_stripe["active"] is False and old_in_stripe["lookup_key"] is None  # the key moved
    assert stripe.list_all("/v1/prices", lookup_keys=["growth-yearly"])[0]["id"] == new["id"]
    assert Price.objects.get(stripe_id=old["id"]).active is False
    assert api.get(f"{PRICES}{new['id']}/").json() == new
    assert [p["id"] for p in api.get(PRICES, {"product": product["id"], "active": "true"}).json()["results"]] == [
        new["id"]
    ]


def test_a_change_to_one_time_or_another_currency(api, live, stripe):
    old = _price(api, _product(api)["id"], recurring={"interval": "month"})

    one_time = api.patch(f"{PRICES}{old['id']}/", {"recurring": None, "currency": "gbp"}, format="json")

    assert one_time.status_code == 201
    assert (one_time.json()["type"], one_time.json()["currency"], one_time.json()["unit_amount"]) == (
        "one_time",
        "gbp",
        4900,
    )
    assert stripe.get(f"/v1/prices/{old['id']}")["active"] is False


def test_archiving_failing_after_the_new_price_leaves_both_active_and_a_repeat_finishes(
    api, live, stripe, stripe_server
):
    old = _price(api, _product(api)["id"])
    stripe_server.fail_next(f"/v1/prices/{old['id']}", 500, method="POST")
    body = {"unit_amount": 5000, "request_id": "change-1"}

    failed = api.patch(f"{PRICES}{old['id']}/", body, format="json")

    assert failed.status_code == 502
    error = failed.json()["error"]
    assert error["code"] == "price_change_incomplete" and error["details"]["old_price"] == old["id"]
    new_id = error["details"]["new_price"]
    assert new_id in error["message"] and "same request_id" in error["message"]
    # The new price is visible, the old one still sells.
    assert stripe.get(f"/v1/prices/{new_id}")["unit_amount"] == 5000
    assert api.get(f"{PRICES}{new_id}/").json()["unit_amount"] == 5000
    assert stripe.get(f"/v1/prices/{old['id']}")["active"] is True and Price.objects.get(stripe_id=old["id"]).active

    repeated = api.patch(f"{PRICES}{old['id']}/", body, format="json")

    assert repeated.status_code == 201 and repeated.json()["id"] == new_id  # the same new price, not a third
    assert (
        stripe.get(f"/v1/prices/{old['id']}")["active"] is False and not Price.objects.get(stripe_id=old["id"]).active
    )
    assert len(stripe.list_all("/v1/prices")) == 2


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_stripe_down_before_the_new_price_writes_nothing(api, live, stripe, stripe_server, settings, fault):
    old = _price(api, _product(api)["id"])
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    if fault == "timeout":
        stripe_server.hang_next("/v1/prices", seconds=5, method="POST")
    else:
        stripe_server.fail_next("/v1/prices", 500, method="POST")

    response = api.patch(f"{PRICES}{old['id']}/", {"unit_amount": 1}, format="json")

    assert response.status_code == 502 and response.json()["error"]["code"] == "stripe_unavailable"
    assert list(Price.objects.values_list("stripe_id", "active", "unit_amount")) == [(old["id"], True, 4900)]


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_stripe_down_during_price_create_and_archive_is_a_502(api, live, stripe, stripe_server, settings, fault):
    product = _product(api)
    old = _price(api, product["id"])
    settings.STRIPE_TIMEOUT_SECONDS = 0.5

    def arm(path):
        if fault == "timeout":
            stripe_server.hang_next(path, seconds=5, method="POST")
        else:
            stripe_server.fail_next(path, 500, method="POST")

    arm("/v1/prices")
    created = api.post(PRICES, {"product": product["id"], "currency": "usd", "unit_amount": 1}, format="json")
    arm(f"/v1/prices/{old['id']}")
    archived = api.post(f"{PRICES}{old['id']}/archive/")

    for response in (created, archived):
        assert response.status_code == 502 and response.json()["error"]["code"] == "stripe_unavailable"
    assert list(Price.objects.values_list("stripe_id", "active")) == [(old["id"], True)]


def test_price_archive(api, live, stripe):
    price = _price(api, _product(api)["id"])

    response = api.post(f"{PRICES}{price['id']}/archive/")

    assert response.status_code == 200 and response.json()["active"] is False
    assert stripe.get(f"/v1/prices/{price['id']}")["active"] is False
    assert api.delete(f"{PRICES}{price['id']}/").status_code == 405  # prices are archived, never deleted


def test_stripe_refusing_a_price_write_is_a_422(api, live, stripe):
    upsert_objects(live, "price", [today("price", id="price_ghost", product="prod_x")])  # gone from Stripe

    for response in (
        api.patch(f"{PRICES}price_ghost/", {"nickname": "x"}, format="json"),
        api.post(f"{PRICES}price_ghost/archive/"),
    ):
        assert response.status_code == 422 and "No such price: 'price_ghost'" in response.json()["error"]["message"]
    assert Price.objects.get(stripe_id="price_ghost").active


def test_another_accounts_price_is_a_404(api, live, other_account):
    upsert_objects(other_account, "price", [today("price", id="price_theirs", product="prod_theirs")])

    assert api.get(f"{PRICES}price_theirs/").status_code == 404
    assert api.patch(f"{PRICES}price_theirs/", {"unit_amount": 1}, format="json").status_code == 404
    assert api.post(f"{PRICES}price_theirs/archive/").status_code == 404
    assert api.get(PRICES).json()["results"] == []


def _prices(account, n: int, *, start: int = 1_700_000_000, prefix: str = "") -> None:
    upsert_objects(
        account,
        "price",
        [
            today(
                "price",
                id=f"price_{prefix}{i:03d}",
                product=f"prod_{i % 2}",
                created=start + i,
                currency="usd" if i % 3 else "eur",
                unit_amount=(i * 37) % 101,
                active=i % 4 != 0,
                type="recurring" if i % 2 else "one_time",
                recurring={"interval": "month", "interval_count": 1, "usage_type": "licensed"} if i % 2 else None,
            )
            for i in range(n)
        ],
    )


def test_price_filters_and_ordering(api, live):
    _prices(live, 12)

    def ids(params):
        response = api.get(PRICES, params)
        assert response.status_code == 200, response.content
        return [p["id"] for p in response.json()["results"]]

    assert ids({"product": "prod_1", "currency": "EUR"}) == ["price_009", "price_003"]
    assert ids({"active": "false"}) == ["price_008", "price_004", "price_000"]
    assert ids({"type": "recurring", "active": "true", "currency": "usd"}) == [
        "price_011",
        "price_007",
        "price_005",
        "price_001",
    ]
    by_amount = api.get(PRICES, {"ordering": "unit_amount", "page_size": 100}).json()["results"]
    assert [p["unit_amount"] for p in by_amount] == sorted(p["unit_amount"] for p in by_amount)
    assert api.get(PRICES, {"type": "tiered"}).status_code == 400


@pytest.mark.parametrize(("url", "build"), [(PRICES, _prices), (PRODUCTS, None)])
def test_catalogue_lists_cost_a_constant_number_of_queries(api, live, url, build, django_assert_max_num_queries):
    def products(account, n, *, start=1_700_000_000, prefix=""):
        upsert_objects(
            account, "product", [today("product", id=f"prod_{prefix}{i:03d}", created=start + i) for i in range(n)]
        )

    build = build or products
    build(live, 3)
    with django_assert_max_num_queries(6):
        small = api.get(url, {"page_size": 200})
    build(live, 80, start=1_750_000_000, prefix="b")
    with django_assert_max_num_queries(6):
        large = api.get(url, {"page_size": 200})
    assert len(small.json()["results"]) == 3 and len(large.json()["results"]) == 83
