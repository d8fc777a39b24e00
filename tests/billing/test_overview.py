"""GET /api/v1/billing/overview/ (issue 11, item 7): the figures equal hand-computed totals on a fixed data set
(refunds, disputes won and lost, inquiries, failed and uncaptured charges, two currencies, a time zone whose day
boundary moves charges, refunds and customers to other days), the previous window is compared, another account's
data never counts, the figures equal what the local Stripe itself lists, bad parameters are a 400 naming the
field, and the number of queries does not grow with the data or the window."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from billing.selectors.overview import Window, revenue_overview
from billing.stripe.mirror import apply_event_object, upsert_objects
from tests.billing.stripe_seed import CARD, Stripe
from tests.conftest import token_for
from tests.factories import AccountFactory, MembershipFactory, UserFactory

URL = "/api/v1/billing/overview/"
BERLIN = "Europe/Berlin"  # UTC+1 in early March 2026 (summer time starts on the 29th)


def at(text: str) -> int:
    """'2026-03-10 23:30' (UTC) -> Stripe's epoch seconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def charge(id, amount, currency, created, *, customer=None, status="succeeded", captured=True, captured_amount=None):
    return {
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if captured_amount is None else captured_amount,
        "currency": currency,
        "status": status,
        "paid": status == "succeeded",
        "captured": captured,
        "customer": customer,
        "created": at(created),
    }


def refund(id, amount, currency, created, *, charge, status="succeeded"):
    return {
        "id": id,
        "object": "refund",
        "amount": amount,
        "currency": currency,
        "status": status,
        "charge": charge,
        "created": at(created),
    }


def dispute(id, amount, currency, created, *, charge, status):
    return {
        "id": id,
        "object": "dispute",
        "amount": amount,
        "currency": currency,
        "status": status,
        "charge": charge,
        "reason": "fraudulent",
        "created": at(created),
    }


def customer(id, created):
    return {"id": id, "object": "customer", "email": f"{id}@example.com", "created": at(created)}


def mirror(account, charges=(), refunds=(), disputes=(), customers=()):
    for name, objects in (("customer", customers), ("charge", charges), ("refund", refunds), ("dispute", disputes)):
        if objects:
            upsert_objects(account, name, list(objects))


def seed_fixed(account, prefix=""):
    """The fixed data set. Window 2026-03-10..12 in Berlin (23:00 UTC the day before to 23:00 UTC), previous
    window 2026-03-07..09. Comments give each object's day in Berlin, and what it counts for."""
    p = prefix
    mirror(
        account,
        customers=[
            customer(f"{p}cus_1", "2026-03-09 23:30"),  # Berlin 03-10 00:30: new, current (UTC: previous)
            customer(f"{p}cus_2", "2026-03-11 12:00"),  # current
            customer(f"{p}cus_3", "2026-03-08 12:00"),  # previous
            customer(f"{p}cus_4", "2026-03-12 23:30"),  # Berlin 03-13: after the window
            customer(f"{p}cus_5", "2026-03-12 08:00"),  # current, deleted below: still a new customer then
        ],
        charges=[
            charge(f"{p}ch_1", 1000, "eur", "2026-03-10 10:00", customer=f"{p}cus_1"),  # 03-10
            charge(f"{p}ch_2", 2500, "eur", "2026-03-10 23:30", customer=f"{p}cus_2"),  # Berlin 03-11 (UTC 03-10)
            charge(f"{p}ch_3", 4000, "usd", "2026-03-12 22:59", customer=f"{p}cus_1"),  # 03-12 23:59
            charge(f"{p}ch_4", 999, "usd", "2026-03-12 23:00", customer=f"{p}cus_1"),  # Berlin 03-13: out (UTC in)
            charge(f"{p}ch_5", 700, "eur", "2026-03-11 09:00", customer=f"{p}cus_2", status="failed"),  # no
            charge(f"{p}ch_6", 800, "eur", "2026-03-11 09:00", customer=f"{p}cus_2", captured=False),  # no: auth
            charge(f"{p}ch_7", 1500, "eur", "2026-03-09 22:30", customer=f"{p}cus_3"),  # Berlin 03-09: previous
            charge(f"{p}ch_8", 3000, "eur", "2026-03-07 12:00"),  # previous, no customer
            charge(f"{p}ch_9", 5000, "usd", "2026-03-06 22:30", customer=f"{p}cus_3"),  # Berlin 03-06: before both
            charge(f"{p}ch_10", 600, "eur", "2026-03-11 12:00"),  # 03-11, no customer
            charge(f"{p}ch_11", 1000, "eur", "2026-03-12 09:00", customer=f"{p}cus_1", captured_amount=400),  # 400
        ],
        refunds=[
            refund(f"{p}re_1", 300, "eur", "2026-03-11 09:00", charge=f"{p}ch_7"),  # current, of a previous charge
            refund(f"{p}re_2", 200, "eur", "2026-03-12 20:00", charge=f"{p}ch_1", status="pending"),  # counts
            refund(f"{p}re_3", 100, "eur", "2026-03-11 10:00", charge=f"{p}ch_1", status="failed"),  # no
            refund(f"{p}re_4", 1000, "usd", "2026-03-09 23:00", charge=f"{p}ch_9"),  # Berlin 03-10 00:00 (UTC 03-09)
            refund(f"{p}re_5", 500, "eur", "2026-03-08 10:00", charge=f"{p}ch_8"),  # previous
            refund(f"{p}re_6", 50, "eur", "2026-03-11 10:00", charge=f"{p}ch_1", status="canceled"),  # no
        ],
        disputes=[
            dispute(f"{p}dp_1", 2500, "eur", "2026-03-12 10:00", charge=f"{p}ch_2", status="lost"),
            dispute(f"{p}dp_2", 4000, "usd", "2026-03-12 12:00", charge=f"{p}ch_3", status="won"),
            dispute(f"{p}dp_3", 1500, "eur", "2026-03-11 08:00", charge=f"{p}ch_7", status="needs_response"),
            dispute(f"{p}dp_4", 700, "eur", "2026-03-11 08:00", charge=f"{p}ch_10", status="warning_needs_response"),
            dispute(f"{p}dp_5", 3000, "eur", "2026-03-08 10:00", charge=f"{p}ch_8", status="lost"),  # previous
        ],
    )
    apply_event_object(
        account, {"id": f"{p}cus_5", "object": "customer", "deleted": True}, event_id="evt_del", event_created=at(
            "2026-03-13 08:00"
        ), deleted=True
    )  # fmt: skip


def m(value, previous, change, percent):
    return {"value": value, "previous": previous, "change": change, "change_percent": percent}


def day(date, gross=0, net=0, payments=0, refunds=(0, 0), disputes=(0, 0, 0)):
    return {
        "date": date,
        "gross_volume": gross,
        "net_volume": net,
        "successful_payments": payments,
        "refunds_count": refunds[0],
        "refunds_amount": refunds[1],
        "disputes_count": disputes[0],
        "disputes_amount": disputes[1],
        "disputes_lost_amount": disputes[2],
    }


# Worked by hand from the comments in seed_fixed.
EXPECTED_BERLIN = {
    "window": {"start_date": "2026-03-10", "end_date": "2026-03-12", "days": 3, "tz": BERLIN},
    "previous_window": {"start_date": "2026-03-07", "end_date": "2026-03-09"},
    "new_customers": m(3, 1, 2, 200.0),  # cus_1, cus_2, cus_5 / cus_3
    "currencies": [
        {
            "currency": "eur",
            # ch_1 1000 + ch_2 2500 + ch_10 600 + ch_11 400 / ch_7 1500 + ch_8 3000
            "gross_volume": m(4500, 4500, 0, 0.0),
            # 4500 - refunds 500 - lost 2500 / 4500 - 500 - 3000
            "net_volume": m(1500, 1000, 500, 50.0),
            "successful_payments": m(4, 2, 2, 100.0),
            "refunds": {"count": m(2, 1, 1, 100.0), "amount": m(500, 500, 0, 0.0)},
            "disputes": {
                "count": m(2, 1, 1, 100.0),  # dp_1, dp_3 (dp_4 is an inquiry) / dp_5
                "amount": m(4000, 3000, 1000, 33.3),
                "lost_amount": m(2500, 3000, -500, -16.7),
            },
            "paying_customers": m(2, 1, 1, 100.0),  # cus_1, cus_2 / cus_3 (ch_8 has no customer)
            # (1000 + 2500 + 400) / 2 / 1500 / 1
            "average_revenue_per_paying_customer": m(1950, 1500, 450, 30.0),
            "daily": [
                day("2026-03-10", gross=1000, net=1000, payments=1),
                day("2026-03-11", gross=3100, net=2800, payments=2, refunds=(1, 300), disputes=(1, 1500, 0)),
                day("2026-03-12", gross=400, net=-2300, payments=1, refunds=(1, 200), disputes=(1, 2500, 2500)),
            ],
        },
        {
            "currency": "usd",
            "gross_volume": m(4000, 0, 4000, None),
            "net_volume": m(3000, 0, 3000, None),  # 4000 - re_4 1000; dp_2 was won
            "successful_payments": m(1, 0, 1, None),
            "refunds": {"count": m(1, 0, 1, None), "amount": m(1000, 0, 1000, None)},
            "disputes": {
                "count": m(1, 0, 1, None),
                "amount": m(4000, 0, 4000, None),
                "lost_amount": m(0, 0, 0, None),
            },
            "paying_customers": m(1, 0, 1, None),
            "average_revenue_per_paying_customer": m(4000, None, None, None),
            "daily": [
                day("2026-03-10", net=-1000, refunds=(1, 1000)),
                day("2026-03-11"),
                day("2026-03-12", gross=4000, net=4000, payments=1, disputes=(1, 4000, 0)),
            ],
        },
    ],
    "daily": [
        {"date": "2026-03-10", "new_customers": 1},
        {"date": "2026-03-11", "new_customers": 1},
        {"date": "2026-03-12", "new_customers": 1},
    ],
}


@pytest.fixture
def fixed(account):
    seed_fixed(account)
    other = AccountFactory()
    seed_fixed(other, prefix="other_")  # the same objects again, another account: must never count
    mirror(other, charges=[charge("big", 10**9, "eur", "2026-03-11 12:00")])
    return account


def test_figures_equal_the_hand_computed_totals(api, fixed):
    response = api.get(URL, {"start_date": "2026-03-10", "end_date": "2026-03-12", "tz": BERLIN})

    assert response.status_code == 200, response.content
    assert response.json() == EXPECTED_BERLIN


def test_the_time_zone_moves_objects_between_days(api, fixed):
    """In UTC the same window holds ch_4 and counts ch_2 on the 10th, ch_7, re_4 and cus_1 in the previous one."""
    body = api.get(URL, {"start_date": "2026-03-10", "end_date": "2026-03-12"}).json()

    assert body["window"]["tz"] == "UTC"
    usd, eur = body["currencies"]  # largest gross volume first: in UTC, usd
    assert [d["gross_volume"] for d in eur["daily"]] == [3500, 600, 400]  # ch_1 + ch_2 on the 10th
    assert eur["gross_volume"] == m(4500, 4500, 0, 0.0)  # ch_7 stays in the previous window: 03-09 22:30 UTC
    assert usd["gross_volume"] == m(4999, 0, 4999, None)  # ch_4 at 23:00 UTC on the 12th is in
    assert usd["refunds"]["amount"] == m(0, 1000, -1000, -100.0)  # re_4 at 23:00 UTC on the 9th
    assert body["new_customers"] == m(3, 2, 1, 50.0)  # cus_2, cus_4 (23:30 UTC), cus_5 / cus_1, cus_3


def test_a_window_across_a_dst_change_has_every_day_once(api, account):
    """Berlin moves to summer time on 2026-03-29 (a 23-hour day): each day's first and last minute land on it."""
    mirror(
        account,
        charges=[
            charge("ch_a", 100, "eur", "2026-03-28 23:00"),  # 03-29 00:00 CET
            charge("ch_b", 200, "eur", "2026-03-29 21:59"),  # 03-29 23:59 CEST
            charge("ch_c", 400, "eur", "2026-03-29 22:00"),  # 03-30 00:00 CEST
        ],
    )
    body = api.get(URL, {"start_date": "2026-03-28", "end_date": "2026-03-30", "tz": BERLIN}).json()

    daily = body["currencies"][0]["daily"]
    assert [(d["date"], d["gross_volume"]) for d in daily] == [
        ("2026-03-28", 0),
        ("2026-03-29", 300),
        ("2026-03-30", 400),
    ]


def test_every_day_of_a_quiet_window_is_present(api, account):
    body = api.get(URL, {"start_date": "2024-02-01", "end_date": "2024-03-01"}).json()

    assert body["window"] == {"start_date": "2024-02-01", "end_date": "2024-03-01", "days": 30, "tz": "UTC"}
    assert body["previous_window"] == {"start_date": "2024-01-02", "end_date": "2024-01-31"}
    assert body["currencies"] == []
    assert [d["date"] for d in body["daily"]][28:] == ["2024-02-29", "2024-03-01"]
    assert body["new_customers"] == m(0, 0, 0, None)


def test_default_window_is_the_last_30_days_in_the_time_zone(api, account):
    body = api.get(URL, {"tz": "Pacific/Kiritimati"}).json()  # UTC+14: often already tomorrow there

    today = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Pacific/Kiritimati")).date()
    assert body["window"]["end_date"] == today.isoformat()
    assert body["window"]["days"] == 30
    assert len(body["daily"]) == 30


def test_any_member_may_read_it_and_nobody_else(account, fixed):
    member = UserFactory()
    MembershipFactory(user=member, account=account, role="member")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(member, account)}")
    assert client.get(URL).status_code == 200
    assert APIClient().get(URL).status_code == 401


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"start_date": "2026-13-01"}, "start_date", "Date has wrong format"),
        ({"start_date": "20260301"}, "start_date", "YYYY-MM-DD"),
        ({"end_date": "2026-W10-1"}, "end_date", "YYYY-MM-DD"),
        ({"start_date": "0001-01-01", "end_date": "2026-01-01"}, "start_date", "between 1970-01-01"),
        ({"start_date": "2026-03-10", "end_date": "2026-03-09"}, "end_date", "before start_date"),
        ({"start_date": "2025-01-01", "end_date": "2026-01-02"}, "end_date", "367 days long; at most 366"),
        ({"start_date": "2020-01-01"}, "start_date", "at most 366"),
        ({"start_date": "9998-01-01"}, "start_date", "after end_date"),
        ({"tz": "Mars/Olympus_Mons"}, "tz", "not an IANA time zone"),
        ({"tz": "../../etc/passwd"}, "tz", "not an IANA time zone"),
        ({"tz": "utc"}, "tz", "not an IANA time zone"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(api, params, field, message):
    response = api.get(URL, params)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]["fields"]) == [field]
    assert message in error["details"]["fields"][field][0]
    assert error["message"].startswith(f"{field}: ")


def test_empty_parameters_are_the_defaults(api, account):
    """The SPA may send `?start_date=&end_date=&tz=`: the same as leaving them out (DRF's rule for query strings)."""
    assert api.get(URL, {"start_date": "", "end_date": "", "tz": ""}).json()["window"] == api.get(URL).json()["window"]


def test_a_366_day_window_is_accepted(api, account):
    body = api.get(URL, {"start_date": "2024-01-01", "end_date": "2024-12-31"}).json()  # a leap year

    assert body["window"]["days"] == 366 and len(body["daily"]) == 366


def test_queries_do_not_grow_with_the_data_or_the_window(api, account, fixed, django_assert_max_num_queries):
    small = {"start_date": "2026-03-12", "end_date": "2026-03-12"}
    large = {"start_date": "2025-03-13", "end_date": "2026-03-13", "tz": BERLIN}
    with CaptureQueriesContext(connection) as before:
        api.get(URL, small)
    # More of everything, in more currencies and on more days.
    for n in range(30):
        seed_fixed(account, prefix=f"more{n}_")
        mirror(account, charges=[charge(f"gbp_{n}", 100 + n, "gbp", f"2026-0{1 + n % 3}-1{n % 10} 12:00")])
    with django_assert_max_num_queries(len(before)):
        response = api.get(URL, large)
    assert response.status_code == 200
    assert sorted(c["currency"] for c in response.json()["currencies"]) == ["eur", "gbp", "usd"]
    assert len(before) == 7, [q["sql"] for q in before.captured_queries]  # the user, the membership, five sums
    # The overview itself: five queries (charges, paying customers, refunds, disputes, customers).
    with django_assert_max_num_queries(5):
        revenue_overview(account=account, window=Window(date(2025, 3, 13), date(2026, 3, 13), _zone(BERLIN)))


def _zone(name):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


# --- the same figures as Stripe's own lists --------------------------------------------------------------------
@pytest.fixture
def stripe(stripe_api_base):
    return Stripe(stripe_api_base)


def pay(stripe: Stripe, amount: int, currency: str, customer: str | None, card: dict = CARD) -> dict:
    method = stripe.post("/v1/payment_methods", type="card", card=card)
    params = {"customer": customer} if customer else {}
    if customer:
        stripe.post(f"/v1/payment_methods/{method['id']}/attach", customer=customer)
    intent = stripe.post("/v1/payment_intents", amount=amount, currency=currency, payment_method=method["id"], **params)
    return stripe.post(f"/v1/payment_intents/{intent['id']}/confirm")


def test_figures_equal_the_totals_stripe_lists(api, account, stripe):
    customers = [stripe.post("/v1/customers", email=f"c{n}@example.com") for n in range(3)]
    for n, (amount, currency) in enumerate([(1000, "eur"), (2500, "eur"), (4000, "usd"), (700, "usd"), (350, "eur")]):
        pay(stripe, amount, currency, customers[n % 3]["id"] if n < 4 else None)
    charges = stripe.list_all("/v1/charges")
    by_amount = {c["amount"]: c for c in charges}
    stripe.post("/v1/refunds", charge=by_amount[2500]["id"], amount=500)
    stripe.post("/v1/refunds", charge=by_amount[2500]["id"], amount=300)
    stripe.post("/v1/refunds", charge=by_amount[700]["id"])
    refunds = stripe.list_all("/v1/refunds")
    listed_customers = stripe.list_all("/v1/customers")
    # The local Stripe has no disputes yet (another branch adds them): these two are Stripe-shaped objects on its
    # charges, mirrored the same way, and the expected totals below read them like Stripe's lists.
    disputes = [
        {**dispute("dp_lost", 1000, "eur", "2026-01-01 00:00", charge=by_amount[1000]["id"], status="lost"),
         "created": by_amount[1000]["created"]},
        {**dispute("dp_won", 4000, "usd", "2026-01-01 00:00", charge=by_amount[4000]["id"], status="won"),
         "created": by_amount[4000]["created"]},
    ]  # fmt: skip
    upsert_objects(account, "customer", listed_customers)
    upsert_objects(account, "charge", charges)
    upsert_objects(account, "refund", refunds)
    upsert_objects(account, "dispute", disputes)

    body = api.get(URL).json()  # the last 30 days in UTC: everything was created just now

    def stripes(currency):
        paid = [c for c in charges if c["currency"] == currency and c["status"] == "succeeded" and c["captured"]]
        refunded = [r for r in refunds if r["currency"] == currency and r["status"] in ("succeeded", "pending")]
        disputed = [d for d in disputes if d["currency"] == currency]
        gross = sum(c["amount"] for c in paid)
        lost = sum(d["amount"] for d in disputed if d["status"] == "lost")
        return {
            "gross_volume": gross,
            "successful_payments": len(paid),
            "refunds": (len(refunded), sum(r["amount"] for r in refunded)),
            "disputes": (len(disputed), sum(d["amount"] for d in disputed), lost),
            "net_volume": gross - sum(r["amount"] for r in refunded) - lost,
            "paying_customers": len({c["customer"] for c in paid if c["customer"]}),
        }

    ours = {
        c["currency"]: {
            "gross_volume": c["gross_volume"]["value"],
            "successful_payments": c["successful_payments"]["value"],
            "refunds": (c["refunds"]["count"]["value"], c["refunds"]["amount"]["value"]),
            "disputes": tuple(c["disputes"][k]["value"] for k in ("count", "amount", "lost_amount")),
            "net_volume": c["net_volume"]["value"],
            "paying_customers": c["paying_customers"]["value"],
        }
        for c in body["currencies"]
    }
    assert ours == {"eur": stripes("eur"), "usd": stripes("usd")}
    assert ours["eur"]["gross_volume"] == 1000 + 2500 + 350  # the data is what the test meant it to be
    assert body["new_customers"]["value"] == len(listed_customers) == 3
    # The daily series adds up to the window's figures.
    for c in body["currencies"]:
        assert sum(d["net_volume"] for d in c["daily"]) == c["net_volume"]["value"]
