"""The account's subscriptions, invoices, charges, refunds and disputes through the SPA's API (SPEC §4): read from
the mirror only (they answer while Stripe is down), filtered and ordered, another account's object a 404, a
constant number of queries per page."""

from datetime import UTC, datetime

import pytest

from billing.stripe.mirror import upsert_objects
from tests.billing.stripe_objects import today
from tests.billing.stripe_seed import CARD

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/v1/billing/"
LISTS = ("subscriptions", "invoices", "charges", "refunds", "disputes")
OBJECT_OF = {
    "subscriptions": "subscription",
    "invoices": "invoice",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
}
T0 = 1_700_000_000


def _mirror_the_local_stripe(stripe, account) -> dict:
    """A customer who subscribed (an invoice and its charge), paid once more and was partly refunded; mirrored
    from the local Stripe's own lists, as the sync would."""
    customer = stripe.post("/v1/customers", email="payer@example.com")
    method = stripe.post("/v1/payment_methods", type="card", card=CARD)
    stripe.post(f"/v1/payment_methods/{method['id']}/attach", customer=customer["id"])
    stripe.post(f"/v1/customers/{customer['id']}", invoice_settings={"default_payment_method": method["id"]})
    product = stripe.post("/v1/products", name="Growth")
    price = stripe.post(
        "/v1/prices", product=product["id"], currency="eur", unit_amount=4900, recurring={"interval": "month"}
    )
    subscription = stripe.post("/v1/subscriptions", customer=customer["id"], items=[{"price": price["id"]}])
    intent = stripe.post(
        "/v1/payment_intents", amount=1500, currency="usd", customer=customer["id"], payment_method=method["id"]
    )
    stripe.post(f"/v1/payment_intents/{intent['id']}/confirm")
    charge = next(c for c in stripe.list_all("/v1/charges") if c["amount"] == 1500)
    refund = stripe.post("/v1/refunds", charge=charge["id"], amount=400)
    for name, path, params in (
        ("subscription", "/v1/subscriptions", {}),
        ("invoice", "/v1/invoices", {"customer": customer["id"]}),
        ("charge", "/v1/charges", {}),
        ("refund", "/v1/refunds", {}),
    ):
        upsert_objects(account, name, stripe.list_all(path, **params))
    return {"customer": customer, "price": price, "subscription": subscription, "charge": charge, "refund": refund}


def test_reads_show_what_the_local_stripe_holds(api, live, stripe):
    seeded = _mirror_the_local_stripe(stripe, live)
    customer_id = seeded["customer"]["id"]

    sub = api.get(f"{BASE}subscriptions/{seeded['subscription']['id']}/")
    assert sub.status_code == 200, sub.content
    body = sub.json()
    assert (body["customer"], body["status"], body["currency"]) == (customer_id, "active", "eur")
    assert [(i["price"], i["unit_amount"], i["currency"]) for i in body["items"]] == [
        (seeded["price"]["id"], 4900, "eur")
    ]
    assert body["items"][0]["id"].startswith("si_") and body["current_period_end"] is not None

    invoices = api.get(f"{BASE}invoices/", {"customer": customer_id}).json()["results"]
    assert [(i["subscription"], i["amount_due"], i["currency"]) for i in invoices] == [
        (seeded["subscription"]["id"], 4900, "eur")
    ]

    charge = api.get(f"{BASE}charges/{seeded['charge']['id']}/").json()
    assert (charge["amount"], charge["amount_refunded"], charge["currency"]) == (1500, 400, "usd")
    assert charge["customer"] == customer_id and charge["status"] == "succeeded" and charge["refunded"] is False
    assert isinstance(charge["amount"], int)

    refunds = api.get(f"{BASE}refunds/", {"charge": seeded["charge"]["id"]}).json()["results"]
    assert [(r["id"], r["amount"], r["currency"]) for r in refunds] == [(seeded["refund"]["id"], 400, "usd")]


def test_dispute_in_stripes_own_shape(api, live):
    # The local Stripe has no disputes: Stripe's own example object stands in.
    upsert_objects(live, "dispute", [today("dispute", id="dp_1", amount=1000, evidence_details={"due_by": T0})])

    body = api.get(f"{BASE}disputes/dp_1/").json()
    assert body["id"] == "dp_1" and body["amount"] == 1000 and body["charge"].startswith("ch_")
    assert body["evidence_due_by"] == "2023-11-14T22:13:20Z"


def _objects(account, name: str, n: int, *, start: int = T0, prefix: str = "") -> None:
    """`n` objects of one kind, in Stripe's shape, alternating currency, status and customer."""
    build = {
        "subscription": lambda i: today(
            "subscription",
            id=f"sub_{prefix}{i:04d}",
            created=start + i,
            currency="usd" if i % 2 else "eur",
            customer=f"cus_{i % 3}",
            status="active" if i % 2 else "past_due",
            items={
                "object": "list",
                "data": [
                    today("subscription_item", id=f"si_{prefix}{i:04d}_{k}", subscription=f"sub_{prefix}{i:04d}")
                    for k in range(2)
                ],
            },
        ),
        "invoice": lambda i: today(
            "invoice",
            id=f"in_{prefix}{i:04d}",
            created=start + i,
            currency="usd" if i % 2 else "eur",
            customer=f"cus_{i % 3}",
            status="paid" if i % 2 else "open",
            amount_due=1000 + i,
            due_date=None if i % 5 == 0 else start + 86_400 * i,
        ),
        "charge": lambda i: today(
            "charge",
            id=f"ch_{prefix}{i:04d}",
            created=start + i,
            currency="usd" if i % 2 else "eur",
            customer=f"cus_{i % 3}",
            status="succeeded" if i % 2 else "failed",
            amount=1000 + (i * 7) % 13,
            disputed=i % 4 == 0,
            refunded=i % 6 == 0,
        ),
        "refund": lambda i: today(
            "refund",
            id=f"re_{prefix}{i:04d}",
            created=start + i,
            currency="usd" if i % 2 else "eur",
            charge=f"ch_{i % 3}",
            status="succeeded" if i % 2 else "pending",
            amount=100 + i,
        ),
        "dispute": lambda i: today(
            "dispute",
            id=f"dp_{prefix}{i:04d}",
            created=start + i,
            currency="usd" if i % 2 else "eur",
            charge=f"ch_{i % 3}",
            status="needs_response" if i % 2 else "lost",
            amount=500 + i,
            evidence_details={"due_by": None if i % 5 == 0 else start + 86_400 * (100 - i)},
        ),
    }[name]
    upsert_objects(account, name, [build(i) for i in range(n)])


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [obj["id"] for obj in response.json()["results"]]


@pytest.mark.parametrize("path", LISTS)
def test_another_accounts_object_is_a_404(api, live, other_account, path):
    name = OBJECT_OF[path]
    _objects(other_account, name, 1, prefix="theirs")
    their_id = {
        "subscription": "sub_theirs0000",
        "invoice": "in_theirs0000",
        "charge": "ch_theirs0000",
        "refund": "re_theirs0000",
        "dispute": "dp_theirs0000",
    }[name]

    assert api.get(f"{BASE}{path}/{their_id}/").status_code == 404
    assert api.get(f"{BASE}{path}/").json()["results"] == []


@pytest.mark.parametrize("path", LISTS)
def test_reads_answer_from_the_mirror_while_stripe_is_down(api, live, stripe_server, path):
    _objects(live, OBJECT_OF[path], 3)
    stripe_server.fail_next("/v1/", 500, count=50)

    listed = _ids(api.get(f"{BASE}{path}/"))
    assert len(listed) == 3
    assert api.get(f"{BASE}{path}/{listed[0]}/").status_code == 200
    stripe_server.clear_faults()


@pytest.mark.parametrize("path", LISTS)
def test_reads_are_for_members_and_nothing_is_written(member_api, api, live, path):
    _objects(live, OBJECT_OF[path], 1)

    assert member_api.get(f"{BASE}{path}/").status_code == 200
    assert api.post(f"{BASE}{path}/", {}, format="json").status_code == 405


def test_subscription_filters_and_ordering(api, live):
    _objects(live, "subscription", 10)

    assert _ids(api.get(f"{BASE}subscriptions/", {"status": "active", "currency": "USD", "customer": "cus_1"})) == [
        "sub_0007",
        "sub_0001",
    ]
    window = {"created_after": "2023-11-14T22:13:22Z", "created_before": "2023-11-14T22:13:25Z"}
    assert _ids(api.get(f"{BASE}subscriptions/", window)) == ["sub_0004", "sub_0003", "sub_0002"]
    body = api.get(f"{BASE}subscriptions/sub_0003/").json()
    assert [item["id"] for item in body["items"]] == ["si_0003_0", "si_0003_1"]
    assert _ids(api.get(f"{BASE}subscriptions/", {"ordering": "current_period_end", "page_size": 2}))


def test_invoice_filters_and_ordering(api, live):
    _objects(live, "invoice", 10)

    assert _ids(api.get(f"{BASE}invoices/", {"status": "open", "currency": "eur", "customer": "cus_0"})) == [
        "in_0006",
        "in_0000",
    ]
    due = {"due_after": "2023-11-16T00:00:00Z", "due_before": "2023-11-18T22:13:20Z"}  # T0 + 2 days, T0 + 4 days
    assert _ids(api.get(f"{BASE}invoices/", {**due, "ordering": "due_date"})) == ["in_0002", "in_0003"]
    assert _ids(api.get(f"{BASE}invoices/", {"ordering": "-amount_due", "page_size": 3})) == [
        "in_0009",
        "in_0008",
        "in_0007",
    ]


def test_nullable_ordering_pages_through_every_row_nulls_last(api, live):
    _objects(live, "invoice", 12)  # no due date: 0, 5, 10

    seen, url, params = [], f"{BASE}invoices/", {"ordering": "-due_date", "page_size": 5}
    while url:
        body = api.get(url, params).json()
        seen += [i["id"] for i in body["results"]]
        url, params = body["next"], None
    assert seen == [f"in_{i:04d}" for i in (11, 9, 8, 7, 6, 4, 3, 2, 1, 10, 5, 0)]


def test_charge_filters_and_ordering(api, live):
    _objects(live, "charge", 12)

    assert _ids(api.get(f"{BASE}charges/", {"disputed": "true"})) == ["ch_0008", "ch_0004", "ch_0000"]
    assert _ids(api.get(f"{BASE}charges/", {"refunded": "true", "status": "failed"})) == ["ch_0006", "ch_0000"]
    assert _ids(api.get(f"{BASE}charges/", {"customer": "cus_2", "currency": "usd"})) == ["ch_0011", "ch_0005"]
    by_amount = api.get(f"{BASE}charges/", {"ordering": "amount", "page_size": 100}).json()["results"]
    amounts = [c["amount"] for c in by_amount]
    assert amounts == sorted(amounts) and len(amounts) == 12


def test_refund_filters_and_ordering(api, live):
    _objects(live, "refund", 9)

    assert _ids(api.get(f"{BASE}refunds/", {"charge": "ch_1", "status": "succeeded"})) == ["re_0007", "re_0001"]
    assert _ids(api.get(f"{BASE}refunds/", {"currency": "eur", "ordering": "amount", "page_size": 2})) == [
        "re_0000",
        "re_0002",
    ]
    assert _ids(api.get(f"{BASE}refunds/", {"created_before": "2023-11-14T22:13:22Z"})) == ["re_0001", "re_0000"]


def test_dispute_filters_and_ordering(api, live):
    _objects(live, "dispute", 8)

    assert _ids(api.get(f"{BASE}disputes/", {"status": "lost", "charge": "ch_0"})) == ["dp_0006", "dp_0000"]
    # evidence due soonest first; those without a deadline last (in creation order)
    soonest = _ids(api.get(f"{BASE}disputes/", {"ordering": "evidence_due_by", "page_size": 100}))
    assert soonest == [f"dp_{i:04d}" for i in (7, 6, 4, 3, 2, 1, 0, 5)]
    assert _ids(api.get(f"{BASE}disputes/", {"ordering": "-amount", "currency": "usd", "page_size": 1})) == ["dp_0007"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("subscriptions", {"status": "sleeping"}, "status"),
        ("subscriptions", {"ordering": "customer"}, "ordering"),
        ("invoices", {"due_after": "soon"}, "due_after"),
        ("invoices", {"status": "settled"}, "status"),
        ("charges", {"disputed": "maybe"}, "disputed"),
        ("charges", {"ordering": "fee"}, "ordering"),
        ("refunds", {"created_after": "yesterday"}, "created_after"),
        ("charges", {"refunded": "null"}, "refunded"),
        ("disputes", {"created_before": ""}, "created_before"),
        ("refunds", {"ordering": ""}, "ordering"),
    ],
)
def test_bad_query_parameters_are_400s_naming_them(api, live, path, params, field):
    response = api.get(f"{BASE}{path}/", params)

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]["fields"]


@pytest.mark.parametrize("path", LISTS)
def test_list_costs_a_constant_number_of_queries(api, live, path, django_assert_max_num_queries):
    name = OBJECT_OF[path]
    _objects(live, name, 3)
    with django_assert_max_num_queries(7):
        small = api.get(f"{BASE}{path}/", {"page_size": 200})
    _objects(live, name, 60, start=T0 + 10_000, prefix="b")
    with django_assert_max_num_queries(7):
        large = api.get(f"{BASE}{path}/", {"page_size": 200})
    assert len(small.json()["results"]) == 3 and len(large.json()["results"]) == 63


def test_a_cursor_the_list_did_not_hand_out_is_a_404(api, live):
    assert api.get(f"{BASE}disputes/", {"cursor": "garbage"}).status_code == 404


def test_detail_dates_are_utc_iso(api, live):
    _objects(live, "charge", 1)
    created = api.get(f"{BASE}charges/ch_0000/").json()["created"]
    assert datetime.fromisoformat(created.replace("Z", "+00:00")) == datetime.fromtimestamp(T0, UTC)
