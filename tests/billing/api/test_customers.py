"""Customers of the account's own Stripe through the SPA's API (SPEC §4): written to the local Stripe first, then
to the mirror; read from the mirror; another account's customer is a 404; Stripe's refusals and failures."""

import pytest

from billing.models import Customer
from billing.stripe.mirror import upsert_objects

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/billing/customers/"


def test_create_writes_stripe_then_the_mirror(api, live, stripe):
    response = api.post(URL, {"email": "ada@example.com", "name": "Ada", "metadata": {"tier": "gold"}}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("cus_") and body["email"] == "ada@example.com" and body["metadata"] == {"tier": "gold"}
    in_stripe = stripe.get(f"/v1/customers/{body['id']}")
    assert (in_stripe["email"], in_stripe["metadata"]) == ("ada@example.com", {"tier": "gold"})
    row = Customer.objects.get(account=live, stripe_id=body["id"])
    assert row.name == "Ada" and row.last_event_created is not None  # stamped: older webhooks cannot undo it
    # The SPA reads its write at once, from the mirror.
    assert api.get(f"{URL}{body['id']}/").json()["email"] == "ada@example.com"


def test_the_same_request_id_creates_once(api, live, stripe):
    first = api.post(URL, {"email": "a@example.com", "request_id": "req-1"}, format="json")
    second = api.post(URL, {"email": "a@example.com"}, format="json", HTTP_IDEMPOTENCY_KEY="req-1")

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(stripe.list_all("/v1/customers")) == 1


def test_update_and_delete(api, live, stripe):
    created = api.post(URL, {"email": "b@example.com"}, format="json").json()

    updated = api.patch(f"{URL}{created['id']}/", {"name": "Bea", "phone": "+441234"}, format="json")
    assert updated.status_code == 200 and updated.json()["name"] == "Bea"
    assert stripe.get(f"/v1/customers/{created['id']}")["name"] == "Bea"

    assert api.delete(f"{URL}{created['id']}/").status_code == 204
    row = Customer.objects.get(account=live, stripe_id=created["id"])
    assert row.deleted and row.email == "b@example.com"  # kept for history, gone from the API
    assert api.get(f"{URL}{created['id']}/").status_code == 404
    assert api.get(URL).json()["results"] == []


def test_bad_body_is_a_400_naming_fields(api, live, stripe):
    response = api.post(URL, {"email": "not-an-email", "nmae": "typo", "metadata": {"k": "v" * 501}}, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["details"]["fields"]
    assert {"email", "metadata"} <= set(fields)
    assert stripe.list_all("/v1/customers") == []


def test_unknown_field_is_refused(api, live, stripe):
    response = api.post(URL, {"emial": "a@example.com"}, format="json")
    assert response.status_code == 400 and "emial" in response.json()["error"]["details"]["fields"]


def test_another_accounts_customer_is_a_404(api, live, other_account):
    upsert_objects(other_account, "customer", [{"id": "cus_theirs", "object": "customer", "email": "x@example.com"}])

    assert api.get(f"{URL}cus_theirs/").status_code == 404
    assert api.patch(f"{URL}cus_theirs/", {"name": "mine now"}, format="json").status_code == 404
    assert api.delete(f"{URL}cus_theirs/").status_code == 404
    assert api.get(URL).json()["results"] == []


def test_stripe_refusing_is_a_422_with_its_reason(api, live, stripe):
    # In our mirror, gone from Stripe: Stripe answers "No such customer".
    upsert_objects(live, "customer", [{"id": "cus_ghost", "object": "customer", "email": "g@example.com"}])

    response = api.patch(f"{URL}cus_ghost/", {"name": "x"}, format="json")

    assert response.status_code == 422
    assert "cus_ghost" in response.json()["error"]["message"]
    assert Customer.objects.get(stripe_id="cus_ghost").name == ""


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_stripe_down_is_a_502_and_nothing_is_written(api, live, stripe, stripe_server, settings, fault):
    if fault == "timeout":
        settings.STRIPE_TIMEOUT_SECONDS = 0.5
        stripe_server.hang_next("/v1/customers", seconds=5)
    else:
        stripe_server.fail_next("/v1/customers", 500)

    response = api.post(URL, {"email": "c@example.com"}, format="json")

    assert response.status_code == 502 and response.json()["error"]["code"] == "stripe_unavailable"
    assert not Customer.objects.exists()


def test_members_read_and_only_admins_write(member_api, live, stripe):
    upsert_objects(live, "customer", [{"id": "cus_1", "object": "customer", "email": "m@example.com"}])

    assert member_api.get(URL).status_code == 200
    assert member_api.post(URL, {"email": "x@example.com"}, format="json").status_code == 403
    assert member_api.delete(f"{URL}cus_1/").status_code == 403


def test_no_connection_is_a_409(api, account):
    response = api.post(URL, {"email": "x@example.com"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stripe_not_connected"


def _customers(account, n, *, start=1_700_000_000, prefix="cus_"):
    upsert_objects(
        account,
        "customer",
        [
            {
                "id": f"{prefix}{i:05d}",
                "object": "customer",
                "email": f"user{i}@example.com",
                "name": f"User {i}",
                "created": start + i,
                "currency": "eur" if i % 2 else "usd",
            }
            for i in range(n)
        ],
    )


def test_filters_search_and_ordering(api, live):
    _customers(live, 30)

    by_search = api.get(URL, {"search": "USER1"}).json()["results"]
    assert {c["email"] for c in by_search} == {f"user{i}@example.com" for i in (1, *range(10, 20))}
    eur = api.get(URL, {"currency": "eur", "page_size": 100}).json()["results"]
    assert len(eur) == 15 and {c["currency"] for c in eur} == {"eur"}
    window = api.get(URL, {"created_after": "2023-11-14T22:13:25Z", "created_before": "2023-11-14T22:13:30Z"})
    assert [c["id"] for c in window.json()["results"]] == [f"cus_{i:05d}" for i in (9, 8, 7, 6, 5)]
    by_email = api.get(URL, {"ordering": "email", "page_size": 3}).json()["results"]
    assert [c["email"] for c in by_email] == ["user0@example.com", "user10@example.com", "user11@example.com"]


def test_bad_query_parameters_are_400s(api, live):
    for params, field in (
        ({"ordering": "password"}, "ordering"),
        ({"page_size": "0"}, "page_size"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"delinquent": "null"}, "delinquent"),
        ({"created_before": ""}, "created_before"),
    ):
        response = api.get(URL, params)
        assert response.status_code == 400, params
        assert field in response.json()["error"]["details"]["fields"], params


def test_a_cursor_this_list_did_not_hand_out_is_a_404(api, live):
    _customers(live, 3)
    by_email = api.get(URL, {"ordering": "email", "page_size": 1}).json()

    assert api.get(URL, {"cursor": "garbage"}).status_code == 404
    # A cursor of another ordering names no page of this one.
    cursor = by_email["next"].split("cursor=")[1].split("&")[0]
    assert api.get(URL, {"cursor": cursor}).status_code == 404
    assert api.get(URL, {"cursor": cursor, "ordering": "email"}).status_code == 200
    assert len(api.get(URL, {"cursor": ""}).json()["results"]) == 3  # empty: the first page


def test_cursor_pages_are_stable_under_inserts(api, live):
    _customers(live, 25)
    first = api.get(URL, {"page_size": 10}).json()
    assert [c["id"] for c in first["results"]] == [f"cus_{i:05d}" for i in range(24, 14, -1)]

    # A customer created meanwhile (newest first: it belongs before page one) shifts nothing.
    upsert_objects(live, "customer", [{"id": "cus_new", "object": "customer", "created": 1_800_000_000}])
    second = api.get(first["next"]).json()
    assert [c["id"] for c in second["results"]] == [f"cus_{i:05d}" for i in range(14, 4, -1)]
    third = api.get(second["next"]).json()
    assert [c["id"] for c in third["results"]] == [f"cus_{i:05d}" for i in range(4, -1, -1)]
    assert third["next"] is None

    back = api.get(third["previous"]).json()
    assert [c["id"] for c in back["results"]] == [f"cus_{i:05d}" for i in range(14, 4, -1)]
    assert [c["id"] for c in api.get(back["previous"]).json()["results"]][0] == "cus_00024"


def test_list_costs_a_constant_number_of_queries(api, live, django_assert_max_num_queries):
    _customers(live, 5)
    with django_assert_max_num_queries(6):
        small = api.get(URL, {"page_size": 200})
    _customers(live, 150, start=1_750_000_000, prefix="cus_b")
    with django_assert_max_num_queries(6):
        large = api.get(URL, {"page_size": 200})
    assert len(small.json()["results"]) == 5 and len(large.json()["results"]) == 155


def test_rows_without_a_key_come_last_both_ways(api, live):
    _customers(live, 5)
    upsert_objects(live, "customer", [{"id": f"cus_none{i}", "object": "customer"} for i in range(3)])
    expected = [f"cus_{i:05d}" for i in range(4, -1, -1)] + ["cus_none2", "cus_none1", "cus_none0"]

    pages, link = [], None
    while True:
        body = api.get(link or URL, None if link else {"page_size": 3}).json()
        pages.append([c["id"] for c in body["results"]])
        link = body["next"]
        if link is None:
            break
    assert sum(pages, []) == expected and [len(p) for p in pages] == [3, 3, 2]

    backwards, link = [], body["previous"]
    while link:
        body = api.get(link).json()
        backwards.insert(0, [c["id"] for c in body["results"]])
        link = body["previous"]
    assert backwards == pages[:-1]
    ascending = api.get(URL, {"ordering": "created", "page_size": 10}).json()["results"]
    assert [c["id"] for c in ascending] == expected[4::-1] + ["cus_none0", "cus_none1", "cus_none2"]


def test_a_webhook_older_than_the_write_changes_nothing(api, live, stripe):
    from billing.stripe.mirror import apply_event_object

    created = api.post(URL, {"email": "w@example.com", "name": "Before"}, format="json").json()
    api.patch(f"{URL}{created['id']}/", {"name": "After"}, format="json")
    row = Customer.objects.get(account=live, stripe_id=created["id"])

    # Stripe's customer.updated for the first state, delivered late (events are not ordered).
    stale = {**stripe.get(f"/v1/customers/{created['id']}"), "name": "Before"}
    applied = apply_event_object(live, stale, event_id="evt_late", event_created=row.last_event_created - 1)

    assert not applied
    assert Customer.objects.get(pk=row.pk).name == "After"
    assert api.get(f"{URL}{created['id']}/").json()["name"] == "After"
