"""Credit packs (METERING.md "Top-up", "Refund clawback"): the checkout on the platform's local Stripe, then the
platform events as the processing worker applies them (stored as intake stores them, processed by
billing/webhooks/processing.py, with metering's handlers and listener from the registry)."""

import pytest
from rest_framework.test import APIClient

from billing.webhooks.processing import webhook_event_process
from metering.models import ExtrasBalance, LedgerEntry, Topup
from tests.conftest import PASSWORD, token_for
from tests.factories import MembershipFactory, UserFactory
from tests.helpers.webhooks import stored_event

pytestmark = pytest.mark.django_db
CHECKOUT_URL = "/api/v1/metering/extras/checkout/"
PACK = "extras-1k"  # 1,000 units for 1,000 cents (settings.METERING_CREDIT_PACKS)

_events = iter(range(1, 10**9))


def deliver(event_type: str, obj: dict):
    """A platform event stored and processed once (each call is a new Stripe event id, as a redelivery after a
    lost acknowledgement or a second event about the same object would be)."""
    event = stored_event(
        None, f"evt_m_{next(_events)}", event_type=event_type, obj=obj, relationship="platform", created=1
    )
    outcome = webhook_event_process(event_pk=event.pk)
    event.refresh_from_db()
    assert event.status == "processed", (outcome, event.last_error)
    return event


@pytest.fixture
def platform(stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return stripe_api_base


def buy(api, stripe_server, pack_id: str = PACK) -> dict:
    """Checkout through our API, paid on the local Stripe: the completed session."""
    response = api.post(CHECKOUT_URL, {"pack_id": pack_id}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["checkout_url"].startswith("http") and body["pack_id"] == pack_id
    return stripe_server.complete_checkout(body["session_id"])


def balance_of(account) -> int:
    return ExtrasBalance.objects.get(account=account).cached_balance


def test_a_paid_pack_is_credited_once_per_session(api, account, platform, stripe_server):
    session = buy(api, stripe_server)
    assert (session["mode"], session["payment_status"], session["metadata"]["kind"]) == ("payment", "paid", "extras")
    deliver("checkout.session.completed", session)
    deliver("checkout.session.completed", session)  # the same session again
    topup = Topup.objects.get()
    assert (topup.pack_id, topup.units, topup.price_cents, topup.currency) == (PACK, 1000, 1000, "usd")
    assert topup.payment_intent_id == session["payment_intent"] and topup.checkout_session_id == session["id"]
    assert LedgerEntry.objects.filter(kind="topup").count() == 1
    assert balance_of(account) == 1000
    days = (topup.expires_at - topup.entry.created_at).days
    assert days == 90


def test_the_extras_page_shows_the_balance_and_the_ledger_newest_first(api, account, platform, stripe_server):
    deliver("checkout.session.completed", buy(api, stripe_server))
    from metering.services.extras import extras_debit

    for i in range(3):
        extras_debit(account_id=account.pk, units=10 + i, ref=f"d{i}")
    body = api.get("/api/v1/metering/extras/?limit=2&page=1").json()
    assert (body["balance"], body["total"]) == (967, 4)
    assert [(e["kind"], e["amount"]) for e in body["entries"]] == [("debit", -12), ("debit", -11)]
    assert body["topups"][0]["remaining_units"] == 967
    last = api.get("/api/v1/metering/extras/?limit=2&page=2").json()["entries"]
    assert [e["kind"] for e in last] == ["debit", "topup"]
    assert api.get("/api/v1/metering/extras/?page=3&limit=2").json()["entries"] == []
    for bad in ("page=0", "limit=0", "limit=101", "page=x"):
        assert api.get(f"/api/v1/metering/extras/?{bad}").status_code == 400, bad


def test_an_unknown_pack_is_a_400_and_nothing_goes_to_stripe(api, platform):
    response = api.post(CHECKOUT_URL, {"pack_id": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_pack"
    assert api.post(CHECKOUT_URL, {"pack_id": PACK, "extra": 1}, format="json").status_code == 400


def test_only_owners_and_admins_buy_packs(account, platform):
    user = UserFactory(password=PASSWORD)
    MembershipFactory(user=user, account=account, role="member")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    assert client.post(CHECKOUT_URL, {"pack_id": PACK}, format="json").status_code == 403


def test_sessions_that_are_not_paid_extras_are_left_alone(api, account, platform, stripe_server):
    session = buy(api, stripe_server)
    deliver("checkout.session.completed", {**session, "payment_status": "unpaid"})
    deliver("checkout.session.completed", {**session, "metadata": {**session["metadata"], "kind": "plan"}})
    deliver("checkout.session.completed", {**session, "mode": "subscription"})
    # A session whose amount is not the pack's price is refused rather than credited at the wrong size.
    deliver("checkout.session.completed", {**session, "amount_total": 1})
    assert not LedgerEntry.objects.exists()


def refund(stripe, payment_intent: str, amount: int) -> dict:
    return stripe.post("/v1/refunds", payment_intent=payment_intent, amount=amount)


def charge_of(stripe, payment_intent: str) -> dict:
    latest = stripe.get(f"/v1/payment_intents/{payment_intent}")["latest_charge"]
    charge = stripe.get(f"/v1/charges/{latest['id'] if isinstance(latest, dict) else latest}")
    assert charge.get("payment_intent") in (payment_intent, None), charge
    return {**charge, "payment_intent": payment_intent}


@pytest.fixture
def stripe_platform(platform, settings):
    from tests.billing.stripe_seed import Stripe

    return Stripe(platform, key=settings.STRIPE_SECRET_KEY)


def test_each_refund_claws_back_its_share_and_two_of_the_same_amount_both_count(
    api, account, stripe_server, stripe_platform
):
    session = buy(api, stripe_server)
    deliver("checkout.session.completed", session)
    pi = session["payment_intent"]
    first, second = refund(stripe_platform, pi, 250), refund(stripe_platform, pi, 250)
    assert first["id"] != second["id"]
    deliver("charge.refund.updated", first)
    deliver("charge.refunded", charge_of(stripe_platform, pi))  # lists both refunds: the first is not taken twice
    deliver("charge.refund.updated", second)
    clawbacks = LedgerEntry.objects.filter(kind="refund").order_by("id")
    assert [(e.ref, e.amount) for e in clawbacks] == [(first["id"], -250), (second["id"], -250)]
    assert balance_of(account) == 500


def test_refunds_never_take_back_more_than_the_pack_gave(account, pro):
    from metering.services.extras import extras_refund_clawback
    from tests.metering.helpers import topup

    pack = topup(account, 1000, price_cents=999, pi="pi_x")
    # round(333 / 999 × 1000) = 333 each (half up); the fourth finds 1 unit left to take.
    taken = [
        extras_refund_clawback(refund_id=f"rf_{i}", payment_intent_id="pi_x", refunded_cents=333) for i in range(4)
    ]
    assert taken == [333, 333, 333, 1]
    assert Topup.objects.get(pk=pack.pk).clawed_back_units == 1000
    assert extras_refund_clawback(refund_id="rf_9", payment_intent_id="pi_x", refunded_cents=999) == 0


def test_a_clawback_of_units_already_spent_takes_the_balance_negative(account, pro):
    from metering.services.extras import extras_debit, extras_refund_clawback
    from tests.metering.helpers import topup

    topup(account, 100, price_cents=1000, pi="pi_y")
    extras_debit(account_id=account.pk, units=90, ref="spent")
    assert extras_refund_clawback(refund_id="rf_all", payment_intent_id="pi_y", refunded_cents=1000) == 100
    assert balance_of(account) == -90


def test_a_failed_refund_gives_its_clawback_back(account):
    from metering.services.extras import extras_refund_clawback
    from tests.metering.helpers import topup

    topup(account, 100, price_cents=1000, pi="pi_f")
    extras_refund_clawback(refund_id="rf_f", payment_intent_id="pi_f", refunded_cents=500)
    deliver("charge.refund.updated", {"id": "rf_f", "object": "refund", "status": "failed", "payment_intent": "pi_f"})
    deliver("charge.refund.updated", {"id": "rf_f", "object": "refund", "status": "failed", "payment_intent": "pi_f"})
    assert balance_of(account) == 100
    assert LedgerEntry.objects.get(kind="adjustment").ref == "refund-reversed-rf_f"


def test_a_dispute_debits_the_pack_and_reinstated_funds_credit_it_back(api, account, stripe_server, stripe_platform):
    session = buy(api, stripe_server)
    deliver("checkout.session.completed", session)
    charge = charge_of(stripe_platform, session["payment_intent"])
    dispute = stripe_server.open_dispute(charge["id"])
    dispute = {**dispute, "payment_intent": dispute.get("payment_intent") or session["payment_intent"]}
    deliver("charge.dispute.funds_withdrawn", dispute)
    deliver("charge.dispute.funds_withdrawn", dispute)
    assert balance_of(account) == 0
    assert LedgerEntry.objects.get(kind="debit").ref == f"dispute-{dispute['id']}"
    deliver("charge.dispute.funds_reinstated", dispute)
    deliver("charge.dispute.funds_reinstated", dispute)
    assert balance_of(account) == 1000
    assert LedgerEntry.objects.get(kind="adjustment").ref == f"dispute-reinstated-{dispute['id']}"


def test_refunds_and_disputes_of_other_payments_are_ignored(account):
    deliver("charge.refund.updated", {"id": "rf_z", "object": "refund", "amount": 5, "payment_intent": "pi_unknown"})
    deliver("charge.dispute.funds_withdrawn", {"id": "dp_z", "object": "dispute", "payment_intent": "pi_unknown"})
    assert not LedgerEntry.objects.exists()


@pytest.fixture
def platform_webhooks(stripe_server, platform):
    """What the local Stripe delivers to an endpoint registered for the platform's objects."""
    from tests.harness.webhook_receiver import WebhookReceiver

    receiver = WebhookReceiver("whsec_metering_platform")
    stripe_server.register_webhook("metering", receiver.url, receiver.secret)
    yield receiver
    receiver.close()


def test_the_local_stripes_own_deliveries_credit_and_claw_back(
    api, account, stripe_server, stripe_platform, platform_webhooks
):
    """The events as the local Stripe sends them (localdev/fake_stripe/money_events.py for the charge ones),
    processed by our pipeline: the pack, a partial refund, a dispute won."""
    session = buy(api, stripe_server)
    completed = platform_webhooks.wait_for("checkout.session.completed", session["id"]).to_dict()
    deliver("checkout.session.completed", completed["data"]["object"])
    charge = charge_of(stripe_platform, session["payment_intent"])
    refund(stripe_platform, session["payment_intent"], 100)
    refunded = platform_webhooks.wait_for("charge.refunded", charge["id"]).to_dict()["data"]["object"]
    assert refunded["payment_intent"] == session["payment_intent"]  # what the handler finds the pack by
    deliver("charge.refunded", refunded)
    assert balance_of(account) == 900
    dispute = stripe_server.open_dispute(charge["id"], amount=100)
    withdrawn = platform_webhooks.wait_for("charge.dispute.funds_withdrawn", dispute["id"]).to_dict()
    deliver("charge.dispute.funds_withdrawn", withdrawn["data"]["object"])
    assert balance_of(account) == 0  # the pack's units not already clawed back
    stripe_server.close_dispute(dispute["id"], "won")
    reinstated = platform_webhooks.wait_for("charge.dispute.funds_reinstated", dispute["id"]).to_dict()
    deliver("charge.dispute.funds_reinstated", reinstated["data"]["object"])
    assert balance_of(account) == 900
