"""The local Stripe, through the real Stripe SDK against the subprocess server: what the harness adds to
localstripe behaves like Stripe."""

import os
from collections.abc import Iterator

import pytest
import requests
import stripe

from tests.harness.stripe_fixtures import TEST_SECRET_KEY, ControlError, stripe_sdk_client
from tests.harness.webhook_receiver import WebhookReceiver

WEBHOOK_SECRET = "whsec_harness_test_secret"


@pytest.fixture
def webhooks(stripe_server, stripe_api_base) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    stripe_server.register_webhook("harness", receiver.url, receiver.secret)
    yield receiver
    receiver.close()


@pytest.fixture
def client(stripe_api_base) -> stripe.StripeClient:
    return stripe_sdk_client(stripe_api_base)


def _paying_customer(client: stripe.StripeClient, **params) -> stripe.Customer:
    customer = client.v1.customers.create({"email": "payer@example.com", **params})
    card = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    return client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})


def _charge(client: stripe.StripeClient, amount: int) -> str:
    intent = client.v1.payment_intents.create(
        {"amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert intent.status == "succeeded"
    charge = intent.latest_charge  # localstripe answers it expanded, Stripe as an id
    return charge if isinstance(charge, str) else charge.id


def _monthly_price(client: stripe.StripeClient, unit_amount: int = 1500, **params) -> stripe.Price:
    return client.v1.prices.create(
        {
            "currency": "usd",
            "unit_amount": unit_amount,
            "product_data": {"name": "Pro"},
            "recurring": {"interval": "month"},
            **params,
        }
    )


# --- prices ---------------------------------------------------------------------------------------------------


def test_price_create_retrieve_update_in_todays_shape(client):
    product = client.v1.products.create({"name": "Seats"})
    one_time = client.v1.prices.create(
        {"currency": "eur", "unit_amount": 999, "product": product.id, "metadata": {"tier": "a"}, "lookup_key": "seat"}
    )
    recurring = _monthly_price(client, 2000, nickname="Monthly")

    fetched = client.v1.prices.retrieve(one_time.id).to_dict()
    assert fetched["id"].startswith("price_") and fetched["object"] == "price"
    assert (fetched["unit_amount"], fetched["currency"], fetched["product"]) == (999, "eur", product.id)
    assert (fetched["type"], fetched["recurring"], fetched["active"]) == ("one_time", None, True)
    assert (fetched["lookup_key"], fetched["nickname"], fetched["livemode"]) == ("seat", None, False)
    assert isinstance(fetched["created"], int) and fetched["metadata"] == {"tier": "a"}
    assert recurring.type == "recurring" and recurring.nickname == "Monthly"
    assert recurring.recurring.to_dict().items() >= {"interval": "month", "interval_count": 1}.items()

    updated = client.v1.prices.update(
        one_time.id, {"active": False, "nickname": "Old seat", "metadata": {"tier": "", "note": "x"}}
    )
    assert (updated.active, updated.nickname, updated.metadata.to_dict()) == (False, "Old seat", {"note": "x"})
    assert client.v1.prices.retrieve(one_time.id, {"expand": ["product"]}).product.name == "Seats"


def test_price_refuses_what_stripe_refuses(client):
    price = _monthly_price(client)
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.prices.update(price.id, {"unit_amount": 1})
    assert unknown.value.code == "parameter_unknown" and unknown.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.prices.create({"currency": "usd", "product_data": {"name": "No amount"}})
    assert missing.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as absent:
        client.v1.prices.retrieve("price_doesnotexist")
    assert (absent.value.http_status, absent.value.code) == (404, "resource_missing")


def test_price_list_filters_and_paginates_newest_first(client):
    product_a = client.v1.products.create({"name": "A"})
    product_b = client.v1.products.create({"name": "B"})
    created_a = [
        client.v1.prices.create({"currency": "usd", "unit_amount": 100 * n, "product": product_a.id}).id
        for n in range(1, 6)
    ]
    for n in range(2):
        client.v1.prices.create(
            {"currency": "usd", "unit_amount": n, "product": product_b.id, "recurring": {"interval": "year"}}
        )
    client.v1.prices.update(created_a[0], {"active": False})

    first = client.v1.prices.list({"product": product_a.id, "limit": 2})
    assert [p.id for p in first.data] == [created_a[4], created_a[3]] and first.has_more
    second = client.v1.prices.list({"product": product_a.id, "limit": 2, "starting_after": first.data[-1].id})
    assert [p.id for p in second.data] == [created_a[2], created_a[1]] and second.has_more
    third = client.v1.prices.list({"product": product_a.id, "limit": 2, "starting_after": second.data[-1].id})
    assert [p.id for p in third.data] == [created_a[0]] and not third.has_more

    every_a = [p.id for p in client.v1.prices.list({"product": product_a.id, "limit": 2}).auto_paging_iter()]
    assert every_a == created_a[::-1]
    assert [p.id for p in client.v1.prices.list({"active": False}).data] == [created_a[0]]
    assert len(client.v1.prices.list({"type": "recurring"}).data) == 2
    assert len(client.v1.prices.list({"limit": 100}).data) == 7


def test_lookup_key_names_one_price_until_transferred(client):
    first = _monthly_price(client, lookup_key="pro_monthly")
    with pytest.raises(stripe.InvalidRequestError):
        _monthly_price(client, lookup_key="pro_monthly")
    second = _monthly_price(client, lookup_key="pro_monthly", transfer_lookup_key=True)
    found = client.v1.prices.list({"lookup_keys": ["pro_monthly"]}).data
    assert [p.id for p in found] == [second.id]
    assert client.v1.prices.retrieve(first.id).lookup_key is None


# --- subscriptions on prices ----------------------------------------------------------------------------------


def test_subscription_created_from_a_price_is_active_and_invoiced(client):
    price = _monthly_price(client, 1500)
    customer = _paying_customer(client)
    subscription = client.v1.subscriptions.create(
        {"customer": customer.id, "items": [{"price": price.id, "quantity": 2}], "metadata": {"plan": "pro"}}
    )

    assert subscription.status == "active"
    item = subscription["items"].data[0]
    assert (item.price.id, item.price.unit_amount, item.plan.id, item.quantity) == (price.id, 1500, price.id, 2)
    assert client.v1.invoices.retrieve(subscription.latest_invoice).amount_paid == 3000

    yearly = client.v1.prices.create(
        {"currency": "usd", "unit_amount": 15000, "product": price.product, "recurring": {"interval": "year"}}
    )
    moved = client.v1.subscriptions.update(subscription.id, {"items": [{"id": item.id, "price": yearly.id}]})
    assert moved["items"].data[0].price.id == yearly.id

    one_time = client.v1.prices.create({"currency": "usd", "unit_amount": 5, "product_data": {"name": "Once"}})
    with pytest.raises(stripe.InvalidRequestError, match="type=recurring"):
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": one_time.id}]})


# --- checkout -------------------------------------------------------------------------------------------------


def test_checkout_subscription_completes_and_delivers_a_signed_event(client, stripe_server, webhooks):
    price = _monthly_price(client, 1500)
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "customer_email": "new@example.com",
            "line_items": [{"price": price.id, "quantity": 3}],
            "success_url": "https://app.example.com/ok?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example.com/cancel",
            "client_reference_id": "account-42",
            "metadata": {"account_id": "42"},
            "subscription_data": {"metadata": {"account_id": "42"}},
        }
    )
    assert session.object == "checkout.session" and session.id.startswith("cs_test_")
    assert session.url == f"{stripe_server.base_url}/checkout/{session.id}"
    assert (session.status, session.payment_status, session.amount_total) == ("open", "unpaid", 4500)
    assert session.subscription is None and session.customer is None

    completed = stripe_server.complete_checkout(session.id)

    assert (completed["status"], completed["payment_status"], completed["url"]) == ("complete", "paid", None)
    subscription = client.v1.subscriptions.retrieve(completed["subscription"])
    assert subscription.status == "active" and subscription.metadata.to_dict() == {"account_id": "42"}
    assert subscription.customer == completed["customer"]
    assert client.v1.customers.retrieve(completed["customer"]).email == "new@example.com"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"

    event = webhooks.wait_for("checkout.session.completed", session.id)
    delivered = event.data.object
    assert (delivered.id, delivered.subscription, delivered.client_reference_id) == (
        session.id,
        subscription.id,
        "account-42",
    )
    assert delivered.metadata.to_dict() == {"account_id": "42"}
    assert client.v1.events.list({"type": "checkout.session.completed"}).data[0].id == event.id


def test_checkout_payment_with_price_data_creates_a_succeeded_payment(client, stripe_server):
    customer = client.v1.customers.create({"email": "buyer@example.com"})
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "customer": customer.id,
            "line_items": [
                {"price_data": {"currency": "usd", "unit_amount": 700, "product_data": {"name": "Pack"}}, "quantity": 2}
            ],
            "success_url": "https://app.example.com/ok",
            "payment_intent_data": {"metadata": {"order": "7"}},
        }
    )
    assert (session.amount_total, session.currency, session.payment_intent) == (1400, "usd", None)

    completed = stripe_server.complete_checkout(session.id)

    intent = client.v1.payment_intents.retrieve(completed["payment_intent"])
    assert (intent.status, intent.amount, intent.customer) == ("succeeded", 1400, customer.id)
    assert intent.metadata.to_dict() == {"order": "7"}
    assert completed["customer_details"]["email"] == "buyer@example.com"
    listed = client.v1.checkout.sessions.list({"payment_intent": intent.id}).data
    assert [s.id for s in listed] == [session.id]


def test_checkout_refuses_bad_sessions_and_expires(client, stripe_server):
    price = _monthly_price(client)
    with pytest.raises(stripe.InvalidRequestError, match="recurring price"):
        client.v1.checkout.sessions.create(
            {
                "mode": "payment",
                "line_items": [{"price": price.id, "quantity": 1}],
                "success_url": "https://app.example.com/ok",
            }
        )
    with pytest.raises(stripe.InvalidRequestError) as no_quantity:
        client.v1.checkout.sessions.create(
            {"mode": "subscription", "line_items": [{"price": price.id}], "success_url": "https://app.example.com/ok"}
        )
    assert no_quantity.value.param == "line_items[0][quantity]"

    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.example.com/ok",
        }
    )
    assert client.v1.checkout.sessions.expire(session.id).status == "expired"
    with pytest.raises(ControlError, match="only an open session"):
        stripe_server.complete_checkout(session.id)


def test_hosted_checkout_page_pays_and_redirects(client):
    price = _monthly_price(client, 900)
    session = client.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.example.com/ok?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example.com/cancel",
        }
    )

    page = requests.get(session.url, timeout=10)
    assert page.status_code == 200 and 'id="pay"' in page.text and "900" in page.text

    paid = requests.post(f"{session.url}/pay", timeout=10, allow_redirects=False)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"https://app.example.com/ok?session={session.id}"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"


# --- refunds --------------------------------------------------------------------------------------------------


def test_partial_refunds_add_up_and_an_over_refund_is_refused(client):
    charge = _charge(client, 1000)
    assert client.v1.refunds.create({"charge": charge, "amount": 600}).amount == 600

    with pytest.raises(stripe.InvalidRequestError) as too_large:
        client.v1.refunds.create({"charge": charge, "amount": 401})
    assert (too_large.value.http_status, too_large.value.code) == (400, "amount_too_large")

    assert client.v1.refunds.create({"charge": charge}).amount == 400  # no amount: what is left
    assert client.v1.charges.retrieve(charge).amount_refunded == 1000

    with pytest.raises(stripe.InvalidRequestError) as already:
        client.v1.refunds.create({"charge": charge, "amount": 1})
    assert already.value.code == "charge_already_refunded"


def test_a_refund_keeps_stripes_reason_and_refuses_another(client):
    charge = _charge(client, 1000)
    assert client.v1.refunds.create({"charge": charge, "amount": 100, "reason": "duplicate"}).reason == "duplicate"
    assert client.v1.refunds.create({"charge": charge, "amount": 100}).reason is None

    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.refunds.create({"charge": charge, "amount": 100, "reason": "changed_my_mind"})
    assert (bad.value.http_status, bad.value.param) == (400, "reason")
    assert client.v1.charges.retrieve(charge).amount_refunded == 200


def test_over_refund_through_the_payment_intent_is_refused(client):
    intent = client.v1.payment_intents.create(
        {"amount": 500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    with pytest.raises(stripe.InvalidRequestError) as too_large:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 501})
    assert too_large.value.code == "amount_too_large"


# --- Stripe-Account isolation ---------------------------------------------------------------------------------


def test_connected_accounts_see_only_their_own_objects(stripe_api_base):
    platform = stripe_sdk_client(stripe_api_base)
    account_a = stripe_sdk_client(stripe_api_base, stripe_account="acct_1A")
    account_b = stripe_sdk_client(stripe_api_base, stripe_account="acct_1B")
    a_customers = [account_a.v1.customers.create({"email": f"a{n}@example.com"}).id for n in range(3)]
    b_customer = account_b.v1.customers.create({"email": "b@example.com"}).id
    platform_customer = platform.v1.customers.create({"email": "p@example.com"}).id

    assert account_a.v1.customers.retrieve(a_customers[0]).email == "a0@example.com"
    for client, foreign in (
        (account_b, a_customers[0]),
        (platform, a_customers[0]),
        (account_a, b_customer),
        (account_a, platform_customer),
    ):
        with pytest.raises(stripe.InvalidRequestError) as missing:
            client.v1.customers.retrieve(foreign)
        assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError):
        account_b.v1.customers.update(a_customers[0], {"name": "taken over"})

    first = account_a.v1.customers.list({"limit": 2})
    assert len(first.data) == 2 and first.has_more
    second = account_a.v1.customers.list({"limit": 2, "starting_after": first.data[-1].id})
    assert len(second.data) == 1 and not second.has_more
    assert {c.id for c in account_a.v1.customers.list({"limit": 2}).auto_paging_iter()} == set(a_customers)
    assert [c.id for c in account_b.v1.customers.list().data] == [b_customer]
    assert [c.id for c in platform.v1.customers.list().data] == [platform_customer]

    price = account_a.v1.prices.create({"currency": "usd", "unit_amount": 1, "product_data": {"name": "A"}})
    assert account_b.v1.prices.list().data == [] and platform.v1.prices.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        account_b.v1.prices.retrieve(price.id)


def test_connected_account_checkout_fills_that_account(stripe_api_base, stripe_server, webhooks):
    account_a = stripe_sdk_client(stripe_api_base, stripe_account="acct_1A")
    price = account_a.v1.prices.create(
        {"currency": "usd", "unit_amount": 300, "product_data": {"name": "A"}, "recurring": {"interval": "month"}}
    )
    session = account_a.v1.checkout.sessions.create(
        {
            "mode": "subscription",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://app.example.com/ok",
        }
    )

    completed = stripe_server.complete_checkout(session.id)

    assert account_a.v1.subscriptions.retrieve(completed["subscription"]).status == "active"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_sdk_client(stripe_api_base).v1.subscriptions.retrieve(completed["subscription"])
    event = webhooks.wait_for("checkout.session.completed", session.id)
    assert event.account == "acct_1A"


# --- faults ---------------------------------------------------------------------------------------------------


def test_injected_429_and_500_answer_then_requests_succeed(client, stripe_server):
    stripe_server.fail_next("/v1/customers", 429, count=2, retry_after=7)
    for _ in range(2):
        with pytest.raises(stripe.RateLimitError) as limited:
            client.v1.customers.list()
        assert (limited.value.http_status, limited.value.error.code) == (429, "rate_limit")
        assert limited.value.headers["Retry-After"] == "7"
    assert client.v1.customers.list().data == []

    stripe_server.fail_next("/v1/customers", 500, method="POST")
    assert client.v1.customers.list().data == []  # GET is not the faulted method
    with pytest.raises(stripe.APIError) as failed:
        client.v1.customers.create({"email": "x@example.com"})
    assert failed.value.http_status == 500 and failed.value.error.type == "api_error"
    assert client.v1.customers.create({"email": "x@example.com"}).email == "x@example.com"
    assert stripe_server.faults() == []


def test_sdk_retries_through_an_injected_503(stripe_api_base, stripe_server):
    retrying = stripe_sdk_client(stripe_api_base, max_network_retries=2)
    stripe_server.fail_next("/v1/customers", 503, count=2)
    assert retrying.v1.customers.create({"email": "patient@example.com"}).email == "patient@example.com"
    assert len(stripe_sdk_client(stripe_api_base).v1.customers.list().data) == 1  # failed tries created nothing


def test_hang_times_the_client_out_and_creates_nothing(stripe_api_base, stripe_server):
    impatient = stripe_sdk_client(stripe_api_base, timeout=0.5)
    stripe_server.hang_next("/v1/customers", seconds=60)
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.customers.create({"email": "lost@example.com"})
    stripe_server.clear_faults()  # releases the hung request, which answers without reaching the store
    assert impatient.v1.customers.list().data == []

    stripe_server.hang_next("/v1/customers", seconds=0.2)
    with pytest.raises(stripe.APIError) as gave_up:
        stripe_sdk_client(stripe_api_base).v1.customers.list()
    assert gave_up.value.http_status == 504


# --- keys, account, reset, persistence ------------------------------------------------------------------------


def test_revoked_key_gets_api_key_expired_until_cleared(stripe_api_base, stripe_server):
    rotated = "sk_test_51RotatedAwayKey00000000000000000000000000000000000"
    stripe_server.revoke_key(rotated)
    with pytest.raises(stripe.AuthenticationError) as expired:
        stripe_sdk_client(stripe_api_base, key=rotated).v1.customers.list()
    assert (expired.value.http_status, expired.value.error.code) == (401, "api_key_expired")
    assert expired.value.user_message.startswith("Expired API Key provided: sk_test_***")
    assert stripe_sdk_client(stripe_api_base).v1.customers.list().data == []  # other keys still work

    stripe_server.clear_revoked_keys()
    assert stripe_sdk_client(stripe_api_base, key=rotated).v1.customers.list().data == []


def test_malformed_keys_are_refused_and_restricted_keys_work(stripe_api_base):
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key provided"):
        stripe_sdk_client(stripe_api_base, key="pk_test_publishable").v1.customers.list()
    assert stripe_sdk_client(stripe_api_base, key="rk_test_restricted0000").v1.customers.list().data == []


def test_account_answers_the_platform_or_the_connected_account(stripe_api_base):
    platform = stripe_sdk_client(stripe_api_base).v1.accounts.retrieve_current()
    assert platform.object == "account" and platform.id.startswith("acct_")
    assert platform.charges_enabled and platform.default_currency and platform.business_profile.name
    connected = stripe_sdk_client(stripe_api_base, stripe_account="acct_1Connected").v1.accounts.retrieve_current()
    assert connected.id == "acct_1Connected" and connected.email


def test_reset_empties_everything(stripe_api_base, stripe_server):
    client = stripe_sdk_client(stripe_api_base, key=TEST_SECRET_KEY)
    client.v1.customers.create({"email": "gone@example.com"})
    _monthly_price(client)
    stripe_server.fail_next("/v1/balance", 500, count=5)
    stripe_server.revoke_key(TEST_SECRET_KEY)

    stripe_server.reset()

    assert stripe_server.faults() == []
    assert client.v1.customers.list().data == [] and client.v1.prices.list().data == []
    assert client.v1.plans.list().data == []


def test_nothing_is_written_to_localstripe_pickle(client):
    pickle_path = "/tmp/localstripe.pickle"  # localstripe's fixed path

    def stamp():
        return os.stat(pickle_path).st_mtime_ns if os.path.exists(pickle_path) else None

    before = stamp()
    client.v1.customers.create({"email": "memory@example.com"})
    assert stamp() == before


def test_stripe_api_base_points_django_settings_at_the_fake(stripe_api_base):
    django_settings = pytest.importorskip("django.conf").settings
    if not django_settings.configured:
        pytest.skip("no Django settings in this run (-p no:django)")
    assert django_settings.STRIPE_API_BASE == stripe_api_base


def test_idempotency_key_replays_the_first_answer(stripe_server):
    import requests

    stripe_server.reset()
    url = f"{stripe_server.base_url}/v1/customers"
    headers = {"Authorization": "Bearer sk_test_idem", "Idempotency-Key": "k-1"}
    first = requests.post(url, data={"email": "a@example.com"}, headers=headers, timeout=10)
    again = requests.post(url, data={"email": "a@example.com"}, headers=headers, timeout=10)
    other = requests.post(url, data={"email": "b@example.com"}, headers=headers, timeout=10)
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    listed = requests.get(url, headers={"Authorization": "Bearer sk_test_idem"}, timeout=10).json()["data"]
    assert [c["id"] for c in listed] == [first.json()["id"]]
