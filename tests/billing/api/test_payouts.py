"""Payouts through the SPA's API (SPEC §4, issue 11 item 6), read from the mirror: the list and its filters, one
payout with the totals of what it paid out, its balance transactions (cursor-paged), and the summary by status
and arrival month per currency, checked against the local Stripe's own payouts and against hand-computed totals."""

from datetime import UTC, datetime

import pytest

from billing.stripe.mirror import upsert_objects

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/billing/payouts/"


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def _payout(account, stripe_id, *, amount, currency="eur", status="paid", arrival, created=None):
    upsert_objects(
        account,
        "payout",
        [
            {
                "id": stripe_id,
                "object": "payout",
                "amount": amount,
                "currency": currency,
                "status": status,
                "arrival_date": _ts(arrival),
                "created": created if created is not None else _ts(arrival) - 2 * 86400,
            }
        ],
    )


def _charge(stripe, amount: int, currency: str = "usd") -> str:
    intent = stripe.post(
        "/v1/payment_intents", amount=amount, currency=currency, payment_method="pm_card_visa", confirm=True
    )
    charge = intent["latest_charge"]
    return charge if isinstance(charge, str) else charge["id"]


def _mirror_from_stripe(account, stripe) -> list[dict]:
    """What a sync of payouts does: the payouts, and each one's balance transactions listed with `?payout=`."""
    payouts = stripe.list_all("/v1/payouts")
    upsert_objects(account, "payout", payouts)
    for payout in payouts:
        upsert_objects(
            account,
            "balance_transaction",
            stripe.list_all("/v1/balance_transactions", payout=payout["id"]),
            payout=payout["id"],
        )
    return payouts


def test_a_payout_of_the_local_stripe_with_what_it_paid_out(api, live, stripe, stripe_server):
    charges = [_charge(stripe, amount) for amount in (1000, 2000, 3000)]
    stripe.post("/v1/refunds", charge=charges[0], amount=400)
    made = stripe_server.create_payout(currency="usd", status="paid")
    _mirror_from_stripe(live, stripe)

    listed = api.get(URL).json()["results"]
    assert [(p["id"], p["amount"], p["currency"], p["status"]) for p in listed] == [(made["id"], 5600, "usd", "paid")]
    detail = api.get(f"{URL}{made['id']}/").json()
    assert detail["arrival_date"] is not None and detail["balance_transaction"] == made["balance_transaction"]
    totals = detail["balance_transactions"]
    in_stripe = stripe.list_all("/v1/balance_transactions", payout=made["id"])
    swept = [txn for txn in in_stripe if txn["type"] != "payout"]
    assert (totals["count"], totals["net"]) == (4, 5600)  # three charges and a refund: what the payout paid
    assert (totals["amount"], totals["fee"]) == (
        sum(txn["amount"] for txn in swept),
        sum(txn["fee"] for txn in swept),
    )

    seen, page = [], api.get(totals["url"], {"page_size": 2}).json()
    while True:
        seen.extend(page["results"])
        if page["next"] is None:
            break
        page = api.get(page["next"]).json()
    assert sorted(txn["id"] for txn in seen) == sorted(txn["id"] for txn in in_stripe)
    assert sorted(txn["type"] for txn in seen) == ["charge"] * 3 + ["payout", "refund"]
    refunds = api.get(totals["url"], {"type": "refund"}).json()["results"]
    assert [(txn["amount"], txn["reporting_category"]) for txn in refunds] == [(-400, "refund")]


def test_reads_work_while_stripe_is_down(api, live, stripe_server):
    _payout(live, "po_1", amount=100, arrival="2024-03-01T00:00:00")
    stripe_server.fail_next("/v1/", 500, count=10)

    assert [p["id"] for p in api.get(URL).json()["results"]] == ["po_1"]
    assert api.get(f"{URL}po_1/").status_code == 200
    assert api.get(f"{URL}summary/").status_code == 200
    stripe_server.clear_faults()


def test_another_accounts_payout_is_a_404(api, live, other_account):
    _payout(other_account, "po_theirs", amount=100, arrival="2024-03-01T00:00:00")
    upsert_objects(
        other_account,
        "balance_transaction",
        [{"id": "txn_theirs", "object": "balance_transaction", "amount": 100, "net": 100, "type": "charge"}],
        payout="po_theirs",
    )

    assert api.get(f"{URL}po_theirs/").status_code == 404
    assert api.get(f"{URL}po_theirs/balance-transactions/").status_code == 404
    assert api.get(URL).json()["results"] == []
    assert api.get(f"{URL}summary/").json()["currencies"] == []


def test_members_read(member_api, live):
    _payout(live, "po_1", amount=100, arrival="2024-03-01T00:00:00")
    for path in ("", "po_1/", "po_1/balance-transactions/", "summary/"):
        assert member_api.get(f"{URL}{path}").status_code == 200, path
    assert member_api.post(URL, {}, format="json").status_code == 405


def _payouts(account):
    _payout(account, "po_a", amount=1000, status="paid", arrival="2024-01-10T00:00:00")
    _payout(account, "po_b", amount=2000, status="paid", arrival="2024-01-31T23:30:00")  # February in Paris
    _payout(account, "po_c", amount=500, status="failed", arrival="2024-02-05T00:00:00")
    _payout(account, "po_d", amount=7000, status="in_transit", arrival="2024-03-02T00:00:00")
    _payout(account, "po_e", amount=900, currency="usd", status="paid", arrival="2024-02-20T00:00:00")


def test_filters_and_ordering(api, live):
    _payouts(live)

    def ids(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return [p["id"] for p in response.json()["results"]]

    assert ids(status="paid", ordering="arrival_date") == ["po_a", "po_b", "po_e"]
    assert ids(currency="USD") == ["po_e"]
    assert ids(arrival_after="2024-02-01T00:00:00Z", arrival_before="2024-03-01T00:00:00Z") == ["po_e", "po_c"]
    assert ids(created_after="2024-02-01T00:00:00Z", ordering="created") == ["po_c", "po_e", "po_d"]
    assert ids(ordering="-amount", page_size=2) == ["po_d", "po_b"]
    for params, field in (
        ({"status": "lost"}, "status"),
        ({"arrival_after": "soon"}, "arrival_after"),
        ({"ordering": "fee"}, "ordering"),
    ):
        response = api.get(URL, params)
        assert response.status_code == 400 and field in response.json()["error"]["details"]["fields"], params


def test_summary_by_status_and_month_per_currency(api, live):
    _payouts(live)

    summary = api.get(f"{URL}summary/").json()

    assert summary["tz"] == "UTC"
    eur, usd = summary["currencies"]
    assert (eur["currency"], eur["count"], eur["amount"]) == ("eur", 4, 10500)
    assert eur["by_status"] == [
        {"status": "failed", "count": 1, "amount": 500},
        {"status": "in_transit", "count": 1, "amount": 7000},
        {"status": "paid", "count": 2, "amount": 3000},
    ]
    assert [(m["month"], m["count"], m["amount"]) for m in eur["by_month"]] == [
        ("2024-01", 2, 3000),
        ("2024-02", 1, 500),
        ("2024-03", 1, 7000),
    ]
    assert eur["by_month"][0]["by_status"] == [{"status": "paid", "count": 2, "amount": 3000}]
    assert (usd["currency"], usd["amount"], usd["by_month"][0]["month"]) == ("usd", 900, "2024-02")


def test_summary_months_in_a_time_zone_and_filtered(api, live):
    _payouts(live)

    paris = api.get(f"{URL}summary/", {"tz": "Europe/Paris", "currency": "eur"}).json()

    assert paris["tz"] == "Europe/Paris" and [c["currency"] for c in paris["currencies"]] == ["eur"]
    months = paris["currencies"][0]["by_month"]
    assert [(m["month"], m["amount"]) for m in months] == [("2024-01", 1000), ("2024-02", 2500), ("2024-03", 7000)]
    assert months[1]["by_status"] == [
        {"status": "failed", "count": 1, "amount": 500},
        {"status": "paid", "count": 1, "amount": 2000},
    ]
    paid = api.get(f"{URL}summary/", {"status": "paid", "arrival_before": "2024-02-01T00:00:00Z"}).json()
    assert [(c["currency"], c["count"], c["amount"]) for c in paid["currencies"]] == [("eur", 2, 3000)]


def test_summary_bad_parameters_are_400s(api, live):
    for params, field in (({"tz": "Mars/Olympus"}, "tz"), ({"arrival_after": "2024-13-01"}, "arrival_after")):
        response = api.get(f"{URL}summary/", params)
        assert response.status_code == 400 and field in response.json()["error"]["details"]["fields"], params


def test_queries_are_constant(api, live, django_assert_max_num_queries):
    def seed(start, count):
        for n in range(start, start + count):
            _payout(live, f"po_{n:04d}", amount=100 + n, arrival=f"2024-{n % 12 + 1:02d}-15T00:00:00")
        upsert_objects(
            live,
            "balance_transaction",
            [
                {"id": f"txn_{start}_{n}", "object": "balance_transaction", "amount": n, "net": n, "type": "charge"}
                for n in range(count)
            ],
            payout="po_0000",
        )

    seed(0, 3)
    with django_assert_max_num_queries(6):
        assert len(api.get(URL, {"page_size": 200}).json()["results"]) == 3
    with django_assert_max_num_queries(6):
        assert len(api.get(f"{URL}po_0000/balance-transactions/", {"page_size": 200}).json()["results"]) == 3
    with django_assert_max_num_queries(6):
        api.get(f"{URL}summary/")
    with django_assert_max_num_queries(6):
        api.get(f"{URL}po_0000/")

    seed(3, 150)
    with django_assert_max_num_queries(6):
        assert len(api.get(URL, {"page_size": 200}).json()["results"]) == 153
    with django_assert_max_num_queries(6):
        assert len(api.get(f"{URL}po_0000/balance-transactions/", {"page_size": 200}).json()["results"]) == 153
    with django_assert_max_num_queries(6):
        months = api.get(f"{URL}summary/").json()["currencies"][0]["by_month"]
    assert len(months) == 12 and sum(m["count"] for m in months) == 153
    with django_assert_max_num_queries(6):
        assert api.get(f"{URL}po_0000/").json()["balance_transactions"]["count"] == 153
