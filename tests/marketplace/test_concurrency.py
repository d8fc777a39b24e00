"""Exactly once under concurrency, with threads on PostgreSQL (skipped on SQLite): the same purchase or top-up
request id sent twice at once charges once; parallel debits never overspend nor apply a key twice."""

import pytest
from rest_framework.test import APIClient

from marketplace.models import Balance, LedgerEntry, Purchase, TopUp
from marketplace.services.balance import balance_adjust, usage_debit
from tests.conftest import PASSWORD, token_for
from tests.factories import MembershipFactory, UserFactory
from tests.helpers.threads import run_concurrently
from tests.marketplace.conftest import create_price, create_product, save_card

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("requires_postgres")]


def _client(account):
    user = UserFactory(password=PASSWORD)
    MembershipFactory(user=user, account=account, role="owner")
    token = token_for(user, account)

    def make():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


def test_the_same_purchase_request_id_sent_twice_at_once_charges_once(agency, agency_api, sub, stripe):
    price = create_price(agency_api, create_product(agency_api)["id"], unit_amount=4000, setup_fee=1000)
    make = _client(sub)
    save_card(make(), stripe)
    body = {"price_id": price["id"], "purchase_request_id": "double-click-0001"}

    responses = run_concurrently(lambda i: make().post("/api/v1/billing/store/purchases/", body, format="json"), 2)

    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([200, 201], [201, 409]), [r.content for r in responses]
    assert Purchase.objects.count() == 1
    intents = stripe.list_all("/v1/payment_intents")
    assert [(i["amount"], i["metadata"]["purchase_id"]) for i in intents] == [(5000, str(Purchase.objects.get().pk))]


def test_the_same_top_up_request_id_sent_twice_at_once_creates_one_payment_intent(agency, sub, stripe):
    make = _client(sub)
    body = {"amount": 2500, "currency": "usd", "top_up_request_id": "top-up-twice-0001"}

    responses = run_concurrently(lambda i: make().post("/api/v1/billing/balance/top-ups/", body, format="json"), 2)

    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([200, 201], [201, 409]), [r.content for r in responses]
    assert TopUp.objects.count() == 1
    intents = stripe.list_all("/v1/payment_intents")
    assert [i["id"] for i in intents] == [TopUp.objects.get().payment_intent_id]
    ok = [r.json() for r in responses if r.status_code in (200, 201)]
    assert {b["payment_intent_id"] for b in ok} == {intents[0]["id"]}


def test_parallel_debits_never_overspend_and_never_apply_a_key_twice(agency, sub):
    balance_adjust(account=sub, amount=1000, description="credit", user=None)

    def debit(i):
        # 16 threads, 8 distinct keys of 150 each (every key sent twice): 6 fit in 1000, then 402s.
        try:
            return usage_debit(account=sub, amount=150, usage_key=f"k-{i % 8}").applied
        except Exception as exc:  # noqa: BLE001 - the refusals are counted below
            return type(exc).__name__

    results = run_concurrently(debit, 16)

    applied = LedgerEntry.objects.filter(kind="usage")
    assert applied.count() == 6
    assert len(set(applied.values_list("ref", flat=True))) == 6
    assert Balance.objects.get(account=sub).amount == 100
    assert results.count(True) == 6
    assert set(results) <= {True, False, "InsufficientBalance"}
