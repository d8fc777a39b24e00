"""How the sync walks Stripe's lists (billing/stripe/sync_sources.py), on a scripted client."""

import pytest

from billing.stripe import mirror
from billing.stripe.sync_sources import RESOURCES, walk_lists, walk_payment_methods, walk_payout_transactions
from core import errors
from tests.billing.stripe_objects import today

pytestmark = pytest.mark.django_db

MISSING_ENDPOINT = errors.StripeRejected("no route", details={"http_status": 404, "endpoint_missing": True})
MISSING_OBJECT = errors.StripeRejected(
    "No such customer", details={"http_status": 404, "stripe_code": "resource_missing"}
)


class ScriptedClient:
    def __init__(self, pages=None, lists=None):
        self.pages = pages or {}  # path -> [(objects, has_more), ...] or an exception
        self.lists = lists or {}  # path -> list or exception
        self.calls = []

    def list_page(self, path, *, limit, starting_after=None, **params):
        self.calls.append((path, starting_after, params))
        script = self.pages[path]
        step = script if isinstance(script, Exception) else script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def iterate(self, path, *, page_size, **params):
        self.calls.append((path, None, params))
        result = self.lists[path]
        if isinstance(result, Exception):
            raise result
        return iter(result)


def collect():
    commits = []

    def commit(object_name, objects, cursor, fetched_at, payout=None):
        commits.append((object_name, [o["id"] for o in objects], cursor) + ((payout,) if payout else ()))
        return len(objects)

    return commits, commit


def test_pages_follow_the_last_id_then_the_next_source():
    client = ScriptedClient(
        pages={
            "/v1/plans": [([{"id": "plan_1"}, {"id": "plan_2"}], True), ([{"id": "plan_3"}], False)],
            "/v1/prices": [([{"id": "price_1"}], False)],
        }
    )
    commits, commit = collect()
    walk_lists(client, RESOURCES["prices"], {}, commit)
    assert [c[:2] for c in client.calls] == [("/v1/plans", None), ("/v1/plans", "plan_2"), ("/v1/prices", None)]
    assert [c[2] for c in commits] == [
        {"source": 0, "after": "plan_2"},
        {"source": 1, "after": None},
        {"source": 2, "after": None},
    ]


def test_a_cursor_resumes_mid_list():
    client = ScriptedClient(pages={"/v1/charges": [([{"id": "ch_9"}], False)]})
    commits, commit = collect()
    walk_lists(client, RESOURCES["charges"], {"source": 0, "after": "ch_8"}, commit)
    assert client.calls == [("/v1/charges", "ch_8", {})]
    assert commits == [("charge", ["ch_9"], {"source": 1, "after": None})]


def test_an_optional_list_this_stripe_lacks_counts_as_empty():
    client = ScriptedClient(pages={"/v1/disputes": MISSING_ENDPOINT})
    commits, commit = collect()
    walk_lists(client, RESOURCES["disputes"], {}, commit)
    assert commits == [("dispute", [], {"source": 1, "after": None, "missing": ["/v1/disputes"]})]


def test_a_required_list_missing_is_an_error():
    client = ScriptedClient(pages={"/v1/customers": MISSING_ENDPOINT})
    with pytest.raises(errors.StripeRejected):
        walk_lists(client, RESOURCES["customers"], {}, collect()[1])


def test_subscriptions_with_more_items_than_listed_are_completed():
    subscription = {"id": "sub_1", "items": {"data": [{"id": "si_1"}], "has_more": True}}
    client = ScriptedClient(
        pages={"/v1/subscriptions": [([subscription], False)]},
        lists={"/v1/subscription_items": [{"id": "si_1"}, {"id": "si_2"}, {"id": "si_3"}]},
    )
    seen = []
    walk_lists(client, RESOURCES["subscriptions"], {}, lambda name, objects, cursor, at: seen.extend(objects))
    assert client.calls[0] == ("/v1/subscriptions", None, {"status": "all"})
    assert client.calls[1] == ("/v1/subscription_items", None, {"subscription": "sub_1"})
    assert seen[0]["items"] == {"data": [{"id": "si_1"}, {"id": "si_2"}, {"id": "si_3"}], "has_more": False}


def test_payment_methods_walk_customers_and_fall_back_to_listing_by_type(account, settings):
    settings.BILLING_SYNC_PAGE_SIZE = 2
    mirror.upsert_objects(account, "customer", [today("customer", id=f"cus_{n}") for n in range(3)])
    mirror.upsert_objects(account, "customer", [today("customer", id="cus_gone", deleted=True)])
    client = ScriptedClient(
        lists={
            "/v1/customers/cus_0/payment_methods": MISSING_ENDPOINT,
            "/v1/payment_methods": [{"id": "pm_a"}],
        }
    )
    commits, commit = collect()
    walk_payment_methods(client, account, {}, commit)
    paths = [(path, params.get("customer")) for path, _, params in client.calls]
    assert paths == [
        ("/v1/customers/cus_0/payment_methods", None),
        ("/v1/payment_methods", "cus_0"),
        ("/v1/payment_methods", "cus_1"),  # the fallback is remembered
        ("/v1/payment_methods", "cus_2"),
    ]
    assert [c[2] for c in commits] == [
        {"customer_after": "cus_1", "by_type": True},  # page size 2: flushed once full
        {"customer_after": "cus_2", "by_type": True},
    ]


def test_payment_methods_of_a_customer_deleted_meanwhile_are_skipped(account):
    mirror.upsert_objects(account, "customer", [today("customer", id="cus_a"), today("customer", id="cus_b")])
    client = ScriptedClient(
        lists={
            "/v1/customers/cus_a/payment_methods": MISSING_OBJECT,
            "/v1/customers/cus_b/payment_methods": [{"id": "pm_b"}],
        }
    )
    commits, commit = collect()
    walk_payment_methods(client, account, {"customer_after": ""}, commit)
    assert commits == [("payment_method", ["pm_b"], {"customer_after": "cus_b"})]


def test_payout_transactions_walk_automatic_payouts_page_by_page_and_resume(account, settings):
    settings.BILLING_SYNC_PAGE_SIZE = 2
    mirror.upsert_objects(
        account,
        "payout",
        [today("payout", id=f"po_{n}", automatic=True) for n in range(3)]
        + [today("payout", id="po_manual", automatic=False), today("payout", id="po_gone", deleted=True)],
    )
    client = ScriptedClient(
        pages={
            "/v1/balance_transactions": [
                ([{"id": "txn_1"}, {"id": "txn_2"}], True),  # po_0, first page
                ([{"id": "txn_3"}], False),  # po_0, last page
                MISSING_OBJECT,  # po_1: deleted in Stripe since it was mirrored
                ([{"id": "txn_4"}], False),  # po_2
            ]
        }
    )
    commits, commit = collect()
    walk_payout_transactions(client, account, {}, commit)

    assert [(after, params["payout"]) for _, after, params in client.calls] == [
        (None, "po_0"),
        ("txn_2", "po_0"),
        (None, "po_1"),
        (None, "po_2"),
    ]
    assert commits == [
        ("balance_transaction", ["txn_1", "txn_2"], {"payout": "po_0", "after": "txn_2"}, "po_0"),
        ("balance_transaction", ["txn_3"], {"payout_after": "po_0"}, "po_0"),
        ("balance_transaction", [], {"payout_after": "po_1"}, "po_1"),
        ("balance_transaction", ["txn_4"], {"payout_after": "po_2"}, "po_2"),
    ]

    resumed = ScriptedClient(pages={"/v1/balance_transactions": [([{"id": "txn_3"}], False)] + [([], False)] * 2})
    commits, commit = collect()
    walk_payout_transactions(resumed, account, {"payout_after": "", "payout": "po_0", "after": "txn_2"}, commit)
    assert [(after, params["payout"]) for _, after, params in resumed.calls] == [
        ("txn_2", "po_0"),  # goes on after the last transaction it committed
        (None, "po_1"),
        (None, "po_2"),
    ]
