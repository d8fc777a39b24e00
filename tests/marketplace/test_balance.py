"""OneBalance (SPEC §5, issue 14): top-ups credited once by Stripe's webhook, at a recorded rate for another
currency; usage debited once per key and refused (402, nothing written) beyond the balance; the ledger's rules in
the database; the check command; `balance_updated` after commit."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from marketplace.models import Balance, LedgerEntry, TopUp
from marketplace.services.balance import balance_adjust
from tests.marketplace.conftest import deliver, save_card, stripe_events

pytestmark = pytest.mark.django_db
TOP_UPS = "/api/v1/billing/balance/top-ups/"
USAGE = "/api/v1/billing/balance/usage/"
BALANCE = "/api/v1/billing/balance/"


def top_up(client, amount=5000, currency="usd", request_id="top-up-00001"):
    return client.post(
        TOP_UPS, {"amount": amount, "currency": currency, "top_up_request_id": request_id}, format="json"
    )


def pay(stripe, intent_id: str, payment_method: str):
    """What Stripe.js does with the client secret: confirm the payment intent with the card."""
    stripe.post(f"/v1/payment_intents/{intent_id}", payment_method=payment_method)
    return stripe.post(f"/v1/payment_intents/{intent_id}/confirm")


@pytest.fixture
def card(sub_api, stripe):
    return save_card(sub_api, stripe)


@pytest.fixture
def funded(agency, sub, sub_api, card, stripe, django_capture_on_commit_callbacks):
    """The sub-account with 5000 (USD cents) credited through a real top-up."""
    intent_id = top_up(sub_api).json()["payment_intent_id"]
    pay(stripe, intent_id, card)
    [event] = stripe_events(stripe, types=("payment_intent.succeeded",), object_id=intent_id)
    deliver(agency, event, django_capture_on_commit_callbacks)
    return sub


def test_a_top_up_is_credited_once_even_when_the_success_is_delivered_three_times(
    agency, sub, sub_api, card, stripe, django_capture_on_commit_callbacks
):
    response = top_up(sub_api, amount=5000)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["base_amount"]) == ("pending", 5000)
    assert body["client_secret"].startswith(body["payment_intent_id"])
    assert sub_api.get(BALANCE).json()["balance"] == 0  # nothing before Stripe confirms

    pay(stripe, body["payment_intent_id"], card)
    [event] = stripe_events(stripe, types=("payment_intent.succeeded",), object_id=body["payment_intent_id"])
    deliver(agency, event, django_capture_on_commit_callbacks)
    deliver(agency, event, django_capture_on_commit_callbacks)  # the same delivery again (stored once)
    deliver(agency, {**event, "id": event["id"] + "_resent"}, django_capture_on_commit_callbacks)

    balance = sub_api.get(BALANCE).json()
    assert balance["balance"] == 5000
    assert [(e["kind"], e["amount"]) for e in balance["entries"]] == [("top_up", 5000)]
    assert TopUp.objects.get(pk=body["id"]).status == TopUp.Status.SUCCEEDED


def test_a_top_up_in_another_currency_is_converted_at_the_recorded_rate(
    agency, sub, sub_api, card, stripe, eur_rate, django_capture_on_commit_callbacks
):
    body = top_up(sub_api, amount=10_000, currency="EUR", request_id="top-up-eur-1").json()
    assert (body["currency"], body["base_amount"], Decimal(body["rate"])) == ("eur", 10_850, Decimal("1.085"))

    eur_rate.rate = Decimal("2")  # a later change of the table does not change what was quoted
    eur_rate.save()
    pay(stripe, body["payment_intent_id"], card)
    [event] = stripe_events(stripe, types=("payment_intent.succeeded",), object_id=body["payment_intent_id"])
    deliver(agency, event, django_capture_on_commit_callbacks)

    [entry] = sub_api.get(BALANCE).json()["entries"]
    assert (entry["amount"], entry["original_amount"], entry["original_currency"]) == (10_850, 10_000, "eur")
    assert Decimal(entry["rate"]) == Decimal("1.085")
    assert entry["rate_source"].startswith("table:test")


def test_a_top_up_in_a_currency_without_a_rate_is_a_400_and_nothing_is_written(sub_api, card, stripe):
    response = top_up(sub_api, currency="gbp")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "no_exchange_rate"
    assert "GBP" in response.json()["error"]["message"]
    assert not TopUp.objects.exists()


def test_a_failed_top_up_payment_credits_nothing(agency, sub_api, stripe, django_capture_on_commit_callbacks):
    declining = save_card(sub_api, stripe, "pm_card_chargeCustomerFail")
    body = top_up(sub_api).json()
    with pytest.raises(Exception):  # noqa: B017 - the card is declined at Stripe
        pay(stripe, body["payment_intent_id"], declining)
    for event in stripe_events(stripe, types=("payment_intent.payment_failed",)):
        deliver(agency, event, django_capture_on_commit_callbacks)

    top = TopUp.objects.get(pk=body["id"])
    assert top.status == TopUp.Status.FAILED
    assert top.failure_message
    assert sub_api.get(BALANCE).json()["balance"] == 0


def test_usage_debits_once_per_key(funded, sub_api):
    first = sub_api.post(USAGE, {"amount": 1200, "usage_key": "call-1", "description": "A call"}, format="json")
    again = sub_api.post(USAGE, {"amount": 1200, "usage_key": "call-1", "description": "A call"}, format="json")

    assert (first.status_code, first.json()["applied"], first.json()["balance"]) == (201, True, 3800)
    assert (again.status_code, again.json()["applied"], again.json()["balance"]) == (200, False, 3800)
    assert again.json()["entry"]["id"] == first.json()["entry"]["id"]
    reused = sub_api.post(USAGE, {"amount": 5, "usage_key": "call-1"}, format="json")
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "usage_key_reused")


def test_usage_beyond_the_balance_is_a_402_and_writes_nothing(funded, sub_api):
    entries_before = LedgerEntry.objects.count()

    response = sub_api.post(USAGE, {"amount": 5001, "usage_key": "too-much"}, format="json")

    assert response.status_code == 402, response.content
    error = response.json()["error"]
    assert error["code"] == "insufficient_balance"
    assert "Top up" in error["message"]
    assert LedgerEntry.objects.count() == entries_before
    assert Balance.objects.get(account=funded).amount == 5000


def test_usage_without_any_balance_is_a_402_and_creates_no_balance_row(sub, sub_api):
    response = sub_api.post(USAGE, {"amount": 1, "usage_key": "k-1"}, format="json")

    assert response.status_code == 402
    assert not Balance.objects.filter(account=sub).exists()


def test_the_balance_lists_entries_newest_first_and_paginated(funded, sub_api):
    for n in range(3):
        sub_api.post(USAGE, {"amount": 100, "usage_key": f"u-{n}"}, format="json")

    page = sub_api.get(BALANCE, {"page_size": 2}).json()

    assert (page["balance"], page["currency"], page["count"]) == (4700, "usd", 4)
    assert [e["ref"] for e in page["entries"]] == ["usage:u-2", "usage:u-1"]
    assert page["next"]


def test_a_refunded_top_up_takes_its_money_out_once(
    agency, funded, sub_api, stripe, django_capture_on_commit_callbacks
):
    top = TopUp.objects.get(account=funded)
    intent = stripe.get(f"/v1/payment_intents/{top.payment_intent_id}")
    charge_id = intent["latest_charge"]["id"] if isinstance(intent["latest_charge"], dict) else intent["latest_charge"]
    charge = {**stripe.get(f"/v1/charges/{charge_id}"), "amount_refunded": 2000, "refunded": False}
    from tests.helpers.stripe_signing import make_event

    event = make_event("charge.refunded", charge)
    deliver(agency, event, django_capture_on_commit_callbacks)
    deliver(agency, {**event, "id": event["id"] + "_again"}, django_capture_on_commit_callbacks)

    balance = sub_api.get(BALANCE).json()
    assert balance["balance"] == 3000
    assert [(e["kind"], e["amount"]) for e in balance["entries"]] == [("refund", -2000), ("top_up", 5000)]


def test_the_ledger_refuses_a_wrong_sign_and_a_repeated_ref_in_the_database(funded):
    balance = Balance.objects.get(account=funded)
    for kind, amount, ref in (("usage", 10, "x-1"), ("top_up", -10, "x-2"), ("adjustment", 0, "x-3")):
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.create(balance=balance, kind=kind, amount=amount, ref=ref)
    existing = LedgerEntry.objects.filter(balance=balance).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(balance=balance, kind="usage", amount=-1, ref=existing.ref)


def test_the_check_command_fails_on_a_cached_balance_that_differs_from_its_entries(funded):
    call_command("check_balances")
    Balance.objects.filter(account=funded).update(amount=4999)

    with pytest.raises(CommandError, match="1 balance"):
        call_command("check_balances")
    Balance.objects.filter(account=funded).update(amount=5000)  # the autouse check runs after the test


def test_a_staff_adjustment_is_an_entry_of_its_own(funded, user):
    entry = balance_adjust(account=funded, amount=-250, description="Goodwill correction", user=user)

    assert (entry.kind, entry.amount, entry.created_by) == ("adjustment", -250, user)
    assert Balance.objects.get(account=funded).amount == 4750
