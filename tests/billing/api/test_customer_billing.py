"""A customer's invoices, payment methods, subscriptions and CRM contact link through the SPA's API (SPEC §4,
issue 11 item 1): writes go to the local Stripe first, then to the mirror; reads come from the mirror; another
account's customer, and another customer's object under this one, are 404s; Stripe's refusals are 422s with its
reason; Stripe down is a 502 with nothing written."""

import pytest
from rest_framework.test import APIClient

from billing.models import Customer, CustomerContactLink, Invoice, PaymentMethod, Subscription, SubscriptionItem
from billing.services import customer_billing
from billing.stripe.mirror import upsert_objects
from contacts_import.models import Contact
from tests.helpers.threads import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = "/api/v1/billing/customers/"


def _customer(api, email="ada@example.com") -> str:
    response = api.post(CUSTOMERS, {"email": email, "name": email.split("@")[0]}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _attach(api, customer_id, payment_method="pm_card_visa", **extra):
    return api.post(
        f"{CUSTOMERS}{customer_id}/payment-methods/", {"payment_method": payment_method, **extra}, format="json"
    )


def _card_as_default(api, customer_id, payment_method="pm_card_visa") -> str:
    method = _attach(api, customer_id, payment_method).json()["id"]
    assert api.post(f"{CUSTOMERS}{customer_id}/payment-methods/{method}/default/").status_code == 200
    return method


def _price(stripe, *, recurring=True, amount=4900) -> str:
    product = stripe.post("/v1/products", name="Growth", type="service")
    extra = {"recurring": {"interval": "month"}} if recurring else {}
    return stripe.post("/v1/prices", product=product["id"], currency="eur", unit_amount=amount, **extra)["id"]


def _fault(stripe_server, settings, fault, path):
    if fault == "timeout":
        settings.STRIPE_TIMEOUT_SECONDS = 0.5
        stripe_server.hang_next(path, seconds=5)
    else:
        stripe_server.fail_next(path, 500)


def _fields(response) -> set[str]:
    assert response.status_code == 400, response.content
    return set(response.json()["error"]["details"]["fields"])


# --- invoices -----------------------------------------------------------------------------------------------


def _invoices(account, customer_id, specs, *, prefix="in_"):
    """specs: (n, status, amount_due, due_date or None), created 1_700_000_000 + n."""
    upsert_objects(
        account,
        "invoice",
        [
            {
                "id": f"{prefix}{n:04d}",
                "object": "invoice",
                "customer": customer_id,
                "status": status,
                "currency": "eur",
                "amount_due": amount,
                "due_date": due,
                "created": 1_700_000_000 + n,
            }
            for n, status, amount, due in specs
        ],
    )


def test_invoices_are_the_customers_own_from_the_mirror(api, live, other_account):
    upsert_objects(live, "customer", [{"id": "cus_a", "object": "customer"}, {"id": "cus_b", "object": "customer"}])
    _invoices(live, "cus_a", [(1, "paid", 500, None), (2, "open", 1500, 1_800_000_000), (3, "void", 900, None)])
    _invoices(live, "cus_b", [(4, "paid", 700, None)])
    # Another account's mirror naming the same customer id shows nothing here.
    upsert_objects(other_account, "customer", [{"id": "cus_a", "object": "customer"}])
    _invoices(other_account, "cus_a", [(5, "paid", 100, None)], prefix="in_theirs")

    body = api.get(f"{CUSTOMERS}cus_a/invoices/").json()

    assert [i["id"] for i in body["results"]] == ["in_0003", "in_0002", "in_0001"]
    second = body["results"][1]
    assert (second["status"], second["amount_due"], second["currency"]) == ("open", 1500, "eur")
    assert second["due_date"].startswith("2027-01-15")
    assert api.get(f"{CUSTOMERS}cus_a/invoices/in_0002/").json()["id"] == "in_0002"
    # Another customer's invoice under this customer is a 404, like another account's.
    assert api.get(f"{CUSTOMERS}cus_a/invoices/in_0004/").status_code == 404
    assert api.get(f"{CUSTOMERS}cus_a/invoices/in_theirs0005/").status_code == 404


def test_invoice_filters_and_ordering(api, live):
    upsert_objects(live, "customer", [{"id": "cus_a", "object": "customer"}])
    _invoices(
        live,
        "cus_a",
        [
            (1, "paid", 500, 1_700_500_000),
            (2, "open", 1500, None),
            (3, "open", 900, 1_700_100_000),
            (4, "void", 50, None),
        ],
    )
    url = f"{CUSTOMERS}cus_a/invoices/"

    assert [i["id"] for i in api.get(url, {"status": "open"}).json()["results"]] == ["in_0003", "in_0002"]
    window = api.get(url, {"created_after": "2023-11-14T22:13:22Z", "created_before": "2023-11-14T22:13:24Z"})
    assert [i["id"] for i in window.json()["results"]] == ["in_0003", "in_0002"]
    by_amount = api.get(url, {"ordering": "-amount_due"}).json()["results"]
    assert [i["amount_due"] for i in by_amount] == [1500, 900, 500, 50]
    # Soonest due first; invoices with no due date last.
    by_due = api.get(url, {"ordering": "due_date", "page_size": 2}).json()
    assert [i["id"] for i in by_due["results"]] == ["in_0003", "in_0001"]
    rest = api.get(by_due["next"]).json()["results"]
    assert {i["id"] for i in rest} == {"in_0002", "in_0004"} and all(i["due_date"] is None for i in rest)


def test_invoice_list_bad_parameters_are_400s(api, live):
    upsert_objects(live, "customer", [{"id": "cus_a", "object": "customer"}])
    url = f"{CUSTOMERS}cus_a/invoices/"
    for params, field in (
        ({"status": "settled"}, "status"),
        ({"ordering": "total"}, "ordering"),
        ({"created_before": "soon"}, "created_before"),
        ({"status": ""}, "status"),
    ):
        assert field in _fields(api.get(url, params)), params
    assert api.get(url, {"cursor": "nope"}).status_code == 404  # not a page this list handed out


def test_another_accounts_customer_is_a_404_for_every_sub_resource(api, live, other_account, stripe):
    upsert_objects(other_account, "customer", [{"id": "cus_theirs", "object": "customer"}])
    _invoices(other_account, "cus_theirs", [(1, "paid", 100, None)])
    base = f"{CUSTOMERS}cus_theirs/"

    for response in (
        api.get(f"{base}invoices/"),
        api.get(f"{base}payment-methods/"),
        api.get(f"{base}subscriptions/"),
        _attach(api, "cus_theirs"),
        api.post(f"{base}subscriptions/", {"price": "price_x"}, format="json"),
        api.put(f"{base}contact/", {"contact_id": "12"}, format="json"),
        api.delete(f"{base}contact/"),
    ):
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    assert not PaymentMethod.objects.exists() and not CustomerContactLink.objects.exists()


def test_reads_answer_while_stripe_is_down(api, live, stripe_server):
    upsert_objects(live, "customer", [{"id": "cus_a", "object": "customer"}])
    _invoices(live, "cus_a", [(1, "paid", 500, None)])
    stripe_server.fail_next("/v1/", 500, count=50)

    assert len(api.get(f"{CUSTOMERS}cus_a/invoices/").json()["results"]) == 1
    assert api.get(f"{CUSTOMERS}cus_a/payment-methods/").status_code == 200
    assert api.get(f"{CUSTOMERS}cus_a/subscriptions/").status_code == 200


# --- payment methods ----------------------------------------------------------------------------------------


def test_attach_writes_stripe_then_the_mirror(api, live, stripe):
    customer_id = _customer(api)

    response = _attach(api, customer_id)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("pm_") and body["customer"] == customer_id and body["is_default"] is False
    assert body["card"]["last4"] == "4242" and body["card"]["brand"] == "visa"
    assert stripe.get(f"/v1/payment_methods/{body['id']}")["customer"] == customer_id
    row = PaymentMethod.objects.get(account=live, stripe_id=body["id"])
    assert row.customer.stripe_id == customer_id and row.last_event_created is not None
    listed = api.get(f"{CUSTOMERS}{customer_id}/payment-methods/").json()["results"]
    assert [m["id"] for m in listed] == [body["id"]]


def test_the_same_request_id_attaches_once(api, live, stripe):
    customer_id = _customer(api)

    first = _attach(api, customer_id, request_id="attach-1")
    second = api.post(
        f"{CUSTOMERS}{customer_id}/payment-methods/",
        {"payment_method": "pm_card_visa"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="attach-1",
    )

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(stripe.list_all("/v1/payment_methods", customer=customer_id, type="card")) == 1
    assert PaymentMethod.objects.count() == 1


def test_a_declined_card_is_a_422_with_stripes_reason(api, live, stripe):
    customer_id = _customer(api)

    response = _attach(api, customer_id, "pm_card_visa_chargeDeclined")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "stripe_rejected" and "declined" in error["message"]
    assert error["details"]["stripe_code"] == "card_declined"
    assert not PaymentMethod.objects.exists()
    assert stripe.list_all("/v1/payment_methods", customer=customer_id, type="card") == []


def test_an_unknown_payment_method_is_a_422(api, live, stripe):
    customer_id = _customer(api)

    response = _attach(api, customer_id, "pm_nosuchmethod")

    assert response.status_code == 422 and "pm_nosuchmethod" in response.json()["error"]["message"]
    assert not PaymentMethod.objects.exists()


def test_attach_bad_bodies_are_400s_naming_fields(api, live, stripe):
    customer_id = _customer(api)
    url = f"{CUSTOMERS}{customer_id}/payment-methods/"

    assert _fields(api.post(url, {}, format="json")) == {"payment_method"}
    assert _fields(api.post(url, {"payment_method": "card_123"}, format="json")) == {"payment_method"}
    assert _fields(api.post(url, {"payment_method": "pm_x/../../v1/customers"}, format="json")) == {"payment_method"}
    assert _fields(api.post(url, {"payment_method": "pm_card_visa", "set_default": True}, format="json")) == {
        "set_default"
    }
    assert stripe.list_all("/v1/payment_methods", customer=customer_id, type="card") == []


def test_a_payment_method_of_another_customer_is_not_moved(api, live, stripe):
    first, second = _customer(api, "a@example.com"), _customer(api, "b@example.com")
    method = _attach(api, first).json()["id"]

    response = _attach(api, second, method)

    assert response.status_code == 409 and response.json()["error"]["code"] == "payment_method_attached_elsewhere"
    assert stripe.get(f"/v1/payment_methods/{method}")["customer"] == first
    # Attaching it again to its own customer is harmless.
    assert _attach(api, first, method).status_code == 201


def test_set_default_shows_on_the_customer_at_once(api, live, stripe):
    customer_id = _customer(api)
    method = _attach(api, customer_id).json()["id"]

    response = api.post(f"{CUSTOMERS}{customer_id}/payment-methods/{method}/default/")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == customer_id and response.json()["default_payment_method"] == method
    assert stripe.get(f"/v1/customers/{customer_id}")["invoice_settings"]["default_payment_method"] == method
    assert api.get(f"{CUSTOMERS}{customer_id}/").json()["default_payment_method"] == method
    listed = api.get(f"{CUSTOMERS}{customer_id}/payment-methods/").json()["results"]
    assert [(m["id"], m["is_default"]) for m in listed] == [(method, True)]


def test_detach_removes_it_and_clears_the_default(api, live, stripe):
    customer_id = _customer(api)
    kept = _attach(api, customer_id).json()["id"]
    method = _card_as_default(api, customer_id)

    response = api.post(f"{CUSTOMERS}{customer_id}/payment-methods/{method}/detach/")

    assert response.status_code == 200, response.content
    assert response.json()["customer"] == "" and response.json()["is_default"] is False
    assert stripe.get(f"/v1/payment_methods/{method}")["customer"] is None
    assert stripe.get(f"/v1/customers/{customer_id}")["invoice_settings"]["default_payment_method"] is None
    assert api.get(f"{CUSTOMERS}{customer_id}/").json()["default_payment_method"] == ""
    assert [m["id"] for m in api.get(f"{CUSTOMERS}{customer_id}/payment-methods/").json()["results"]] == [kept]
    # Detached, it is no longer the customer's: a second detach is a 404, not a call to Stripe.
    assert api.post(f"{CUSTOMERS}{customer_id}/payment-methods/{method}/detach/").status_code == 404


def test_detaching_another_method_keeps_the_default(api, live, stripe):
    customer_id = _customer(api)
    other = _attach(api, customer_id).json()["id"]
    default = _card_as_default(api, customer_id)

    assert api.post(f"{CUSTOMERS}{customer_id}/payment-methods/{other}/detach/").status_code == 200

    assert api.get(f"{CUSTOMERS}{customer_id}/").json()["default_payment_method"] == default
    assert stripe.get(f"/v1/customers/{customer_id}")["invoice_settings"]["default_payment_method"] == default


def test_another_customers_or_accounts_payment_method_is_a_404(api, live, stripe, other_account):
    mine, theirs = _customer(api, "a@example.com"), _customer(api, "b@example.com")
    their_method = _attach(api, theirs).json()["id"]
    # Another account's mirror with a payment method claiming this customer.
    upsert_objects(
        other_account, "payment_method", [{"id": "pm_otheracct", "object": "payment_method", "customer": mine}]
    )

    for method in (their_method, "pm_otheracct", "pm_unknown"):
        base = f"{CUSTOMERS}{mine}/payment-methods/{method}/"
        assert api.get(base).status_code == 404
        assert api.post(f"{base}detach/").status_code == 404
        assert api.post(f"{base}default/").status_code == 404
    assert stripe.get(f"/v1/payment_methods/{their_method}")["customer"] == theirs
    assert stripe.get(f"/v1/customers/{mine}")["invoice_settings"]["default_payment_method"] is None
    assert api.get(f"{CUSTOMERS}{mine}/payment-methods/").json()["results"] == []


def test_stripe_refusing_detach_or_default_is_a_422(api, live, stripe):
    customer_id = _customer(api)
    # In our mirror, unknown to Stripe.
    upsert_objects(live, "payment_method", [{"id": "pm_ghost", "object": "payment_method", "customer": customer_id}])
    base = f"{CUSTOMERS}{customer_id}/payment-methods/pm_ghost/"

    detach = api.post(f"{base}detach/")
    default = api.post(f"{base}default/")

    for response in (detach, default):
        assert response.status_code == 422 and "pm_ghost" in response.json()["error"]["message"]
    assert PaymentMethod.objects.get(stripe_id="pm_ghost").customer_stripe_id == customer_id
    assert Customer.objects.get(stripe_id=customer_id).default_payment_method_stripe_id == ""


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_payment_method_writes_with_stripe_down_are_502s_writing_nothing(
    api, live, stripe, stripe_server, settings, fault
):
    customer_id = _customer(api)
    method = _attach(api, customer_id).json()["id"]
    base = f"{CUSTOMERS}{customer_id}/payment-methods/"

    _fault(stripe_server, settings, fault, "/v1/payment_methods")
    attach = _attach(api, customer_id)
    _fault(stripe_server, settings, fault, "/v1/customers")
    default = api.post(f"{base}{method}/default/")
    _fault(stripe_server, settings, fault, "/v1/payment_methods")
    detach = api.post(f"{base}{method}/detach/")

    for response in (attach, default, detach):
        assert response.status_code == 502, response.content
        assert response.json()["error"]["code"] == "stripe_unavailable"
    assert list(PaymentMethod.objects.values_list("stripe_id", "customer_stripe_id")) == [(method, customer_id)]
    assert Customer.objects.get(stripe_id=customer_id).default_payment_method_stripe_id == ""


def test_members_read_payment_methods_and_only_admins_write(api, member_api, live, stripe):
    customer_id = _customer(api)
    method = _attach(api, customer_id).json()["id"]
    base = f"{CUSTOMERS}{customer_id}/payment-methods/"

    assert member_api.get(base).status_code == 200
    assert member_api.get(f"{base}{method}/").status_code == 200
    assert _attach(member_api, customer_id).status_code == 403
    assert member_api.post(f"{base}{method}/default/").status_code == 403
    assert member_api.post(f"{base}{method}/detach/").status_code == 403
    assert PaymentMethod.objects.count() == 1


def test_payment_method_list_costs_a_constant_number_of_queries(api, live, django_assert_max_num_queries):
    upsert_objects(live, "customer", [{"id": "cus_a", "object": "customer"}])

    def methods(n, prefix):
        card = {"brand": "visa", "last4": "4242", "exp_month": 1, "exp_year": 2030}
        objects = [
            {"id": f"{prefix}{i}", "object": "payment_method", "customer": "cus_a", "type": "card", "card": card}
            for i in range(n)
        ]
        upsert_objects(live, "payment_method", objects)

    methods(2, "pm_s")
    with django_assert_max_num_queries(5):
        small = api.get(f"{CUSTOMERS}cus_a/payment-methods/", {"page_size": 200})
    methods(120, "pm_l")
    with django_assert_max_num_queries(5):
        large = api.get(f"{CUSTOMERS}cus_a/payment-methods/", {"page_size": 200})
    assert len(small.json()["results"]) == 2 and len(large.json()["results"]) == 122


# --- subscriptions ------------------------------------------------------------------------------------------


def test_subscribe_writes_stripe_then_the_mirror_with_items_and_first_invoice(api, live, stripe):
    customer_id = _customer(api)
    _card_as_default(api, customer_id)
    price = _price(stripe)

    response = api.post(f"{CUSTOMERS}{customer_id}/subscriptions/", {"price": price, "quantity": 2}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"].startswith("sub_") and body["customer"] == customer_id and body["status"] == "active"
    assert body["cancel_at_period_end"] is False and body["current_period_end"]
    assert [(i["price"], i["quantity"], i["unit_amount"]) for i in body["items"]] == [(price, 2, 4900)]
    in_stripe = stripe.get(f"/v1/subscriptions/{body['id']}")
    assert in_stripe["customer"] == customer_id and in_stripe["items"]["data"][0]["quantity"] == 2
    row = Subscription.objects.get(account=live, stripe_id=body["id"])
    assert row.customer.stripe_id == customer_id and row.items.get().price_stripe_id == price
    # Its first invoice, paid, is the customer's at once.
    invoices = api.get(f"{CUSTOMERS}{customer_id}/invoices/").json()["results"]
    assert [(i["id"], i["status"], i["amount_due"]) for i in invoices] == [(body["latest_invoice"], "paid", 9800)]
    assert Invoice.objects.get(stripe_id=body["latest_invoice"]).subscription_stripe_id == body["id"]
    listed = api.get(f"{CUSTOMERS}{customer_id}/subscriptions/").json()["results"]
    assert [s["id"] for s in listed] == [body["id"]]


def test_the_same_request_id_subscribes_once(api, live, stripe):
    customer_id = _customer(api)
    _card_as_default(api, customer_id)
    price = _price(stripe)
    url = f"{CUSTOMERS}{customer_id}/subscriptions/"

    first = api.post(url, {"price": price, "request_id": "sub-1"}, format="json")
    second = api.post(url, {"price": price}, format="json", HTTP_IDEMPOTENCY_KEY="sub-1")

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert len(stripe.list_all("/v1/subscriptions", customer=customer_id)) == 1
    assert Subscription.objects.count() == 1 and SubscriptionItem.objects.count() == 1


@pytest.mark.postgres
def test_the_same_request_id_at_once_subscribes_once(requires_postgres, api, live, stripe, settings):
    customer_id = _customer(api)
    _card_as_default(api, customer_id)
    price = _price(stripe)
    # As in production: the SDK retries Stripe's 409 for a request id still in flight, then gets the replay.
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    credentials = api._credentials

    def subscribe(_):
        client = APIClient()
        client.credentials(**credentials)
        response = client.post(
            f"{CUSTOMERS}{customer_id}/subscriptions/", {"price": price, "request_id": "sub-race"}, format="json"
        )
        return response.status_code, response.json().get("id")

    results = run_concurrently(subscribe, 4)

    assert {status for status, _ in results} == {201}
    assert len({sub for _, sub in results}) == 1
    assert len(stripe.list_all("/v1/subscriptions", customer=customer_id)) == 1
    assert Subscription.objects.count() == 1 and SubscriptionItem.objects.count() == 1


def test_a_declined_card_leaves_the_subscription_incomplete(api, live, stripe):
    # Stripe does not refuse the subscription: it creates it incomplete, its first invoice unpaid.
    customer_id = _customer(api)
    _card_as_default(api, customer_id, "pm_card_chargeCustomerFail")
    price = _price(stripe)

    response = api.post(f"{CUSTOMERS}{customer_id}/subscriptions/", {"price": price}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "incomplete"
    invoices = api.get(f"{CUSTOMERS}{customer_id}/invoices/").json()["results"]
    assert [(i["id"], i["status"], i["amount_paid"]) for i in invoices] == [
        (response.json()["latest_invoice"], "open", 0)
    ]


def test_stripe_refusing_a_subscription_is_a_422_with_its_reason(api, live, stripe):
    customer_id = _customer(api)
    url = f"{CUSTOMERS}{customer_id}/subscriptions/"
    price = _price(stripe)

    no_card = api.post(url, {"price": price}, format="json")
    assert no_card.status_code == 422 and "payment method" in no_card.json()["error"]["message"]
    # (localstripe keeps the subscription it refused to charge for; Stripe keeps nothing. Count from here.)
    in_stripe = len(stripe.list_all("/v1/subscriptions", customer=customer_id))
    _card_as_default(api, customer_id)
    unknown = api.post(url, {"price": "price_nosuchprice"}, format="json")
    assert unknown.status_code == 422 and "price_nosuchprice" in unknown.json()["error"]["message"]
    one_time = api.post(url, {"price": _price(stripe, recurring=False)}, format="json")
    assert one_time.status_code == 422 and "recurring" in one_time.json()["error"]["message"]

    assert not Subscription.objects.exists() and not Invoice.objects.exists()
    assert len(stripe.list_all("/v1/subscriptions", customer=customer_id)) == in_stripe


def test_subscription_bad_bodies_are_400s_naming_fields(api, live, stripe):
    customer_id = _customer(api)
    url = f"{CUSTOMERS}{customer_id}/subscriptions/"

    assert _fields(api.post(url, {}, format="json")) == {"price"}
    assert _fields(api.post(url, {"price": "price_1", "quantity": 0}, format="json")) == {"quantity"}
    assert _fields(api.post(url, {"price": "price_1", "quantity": "two"}, format="json")) == {"quantity"}
    assert _fields(api.post(url, {"price": "price 1/../x"}, format="json")) == {"price"}
    assert _fields(api.post(url, {"price": "price_1", "plan": "gold"}, format="json")) == {"plan"}
    assert stripe.list_all("/v1/subscriptions", customer=customer_id) == []


def test_cancel_at_period_end_and_resume(api, live, stripe):
    customer_id = _customer(api)
    _card_as_default(api, customer_id)
    created = api.post(f"{CUSTOMERS}{customer_id}/subscriptions/", {"price": _price(stripe)}, format="json").json()
    base = f"{CUSTOMERS}{customer_id}/subscriptions/{created['id']}/"

    cancelled = api.post(f"{base}cancel/")

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["cancel_at_period_end"] is True and cancelled.json()["status"] == "active"
    assert stripe.get(f"/v1/subscriptions/{created['id']}")["cancel_at_period_end"] is True
    assert Subscription.objects.get(stripe_id=created["id"]).cancel_at_period_end is True
    assert api.get(base).json()["cancel_at_period_end"] is True
    assert len(cancelled.json()["items"]) == 1

    resumed = api.post(f"{base}resume/")

    assert resumed.status_code == 200 and resumed.json()["cancel_at_period_end"] is False
    assert stripe.get(f"/v1/subscriptions/{created['id']}")["cancel_at_period_end"] is False
    assert Subscription.objects.get(stripe_id=created["id"]).cancel_at_period_end is False


def test_another_customers_or_accounts_subscription_is_a_404(api, live, stripe, other_account):
    mine, theirs = _customer(api, "a@example.com"), _customer(api, "b@example.com")
    _card_as_default(api, theirs)
    their_sub = api.post(f"{CUSTOMERS}{theirs}/subscriptions/", {"price": _price(stripe)}, format="json").json()["id"]
    upsert_objects(other_account, "subscription", [{"id": "sub_otheracct", "object": "subscription", "customer": mine}])

    for sub in (their_sub, "sub_otheracct", "sub_unknown"):
        base = f"{CUSTOMERS}{mine}/subscriptions/{sub}/"
        assert api.get(base).status_code == 404
        assert api.post(f"{base}cancel/").status_code == 404
        assert api.post(f"{base}resume/").status_code == 404
    assert stripe.get(f"/v1/subscriptions/{their_sub}")["cancel_at_period_end"] is False
    assert api.get(f"{CUSTOMERS}{mine}/subscriptions/").json()["results"] == []


def test_stripe_refusing_a_cancel_is_a_422(api, live, stripe):
    customer_id = _customer(api)
    upsert_objects(live, "subscription", [{"id": "sub_ghost", "object": "subscription", "customer": customer_id}])

    response = api.post(f"{CUSTOMERS}{customer_id}/subscriptions/sub_ghost/cancel/")

    assert response.status_code == 422 and "sub_ghost" in response.json()["error"]["message"]
    assert Subscription.objects.get(stripe_id="sub_ghost").cancel_at_period_end is False


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_subscription_writes_with_stripe_down_are_502s_writing_nothing(
    api, live, stripe, stripe_server, settings, fault
):
    customer_id = _customer(api)
    _card_as_default(api, customer_id)
    price = _price(stripe)
    url = f"{CUSTOMERS}{customer_id}/subscriptions/"
    existing = api.post(url, {"price": price}, format="json").json()["id"]
    before = (Subscription.objects.count(), SubscriptionItem.objects.count(), Invoice.objects.count())

    _fault(stripe_server, settings, fault, "/v1/subscriptions")
    create = api.post(url, {"price": price}, format="json")
    _fault(stripe_server, settings, fault, "/v1/subscriptions")
    cancel = api.post(f"{url}{existing}/cancel/")

    for response in (create, cancel):
        assert response.status_code == 502, response.content
        assert response.json()["error"]["code"] == "stripe_unavailable"
    assert (Subscription.objects.count(), SubscriptionItem.objects.count(), Invoice.objects.count()) == before
    assert Subscription.objects.get(stripe_id=existing).cancel_at_period_end is False


def test_members_read_subscriptions_and_only_admins_write(api, member_api, live, stripe):
    customer_id = _customer(api)
    upsert_objects(live, "subscription", [{"id": "sub_1", "object": "subscription", "customer": customer_id}])
    url = f"{CUSTOMERS}{customer_id}/subscriptions/"

    assert member_api.get(url).status_code == 200
    assert member_api.post(url, {"price": "price_1"}, format="json").status_code == 403
    assert member_api.post(f"{url}sub_1/cancel/").status_code == 403
    assert member_api.post(f"{url}sub_1/resume/").status_code == 403


def test_subscription_filters_and_a_constant_number_of_queries(api, live, django_assert_max_num_queries):
    upsert_objects(live, "customer", [{"id": "cus_a", "object": "customer"}])

    def subscriptions(n, prefix, status):
        objects = [
            {
                "id": f"{prefix}{i}",
                "object": "subscription",
                "customer": "cus_a",
                "status": status,
                "created": 1_700_000_000 + i,
                "items": {
                    "object": "list",
                    "has_more": False,
                    "data": [
                        {"id": f"si_{prefix}{i}_{k}", "object": "subscription_item", "quantity": 1, "price": {}}
                        for k in range(3)
                    ],
                },
            }
            for i in range(n)
        ]
        upsert_objects(live, "subscription", objects)

    subscriptions(2, "sub_s", "canceled")
    url = f"{CUSTOMERS}cus_a/subscriptions/"
    with django_assert_max_num_queries(6):
        small = api.get(url, {"page_size": 200})
    subscriptions(80, "sub_l", "active")
    with django_assert_max_num_queries(6):
        large = api.get(url, {"page_size": 200})
    assert len(small.json()["results"]) == 2 and len(large.json()["results"]) == 82
    assert all(len(s["items"]) == 3 for s in large.json()["results"])
    assert len(api.get(url, {"status": "canceled"}).json()["results"]) == 2
    assert "status" in _fields(api.get(url, {"status": "gone"}))


# --- the link to a CRM contact ------------------------------------------------------------------------------


def _contacts(account, *ids):
    """Contacts with these ids in the account: contacts_import's check refuses a link to any other."""
    for contact_id in ids:
        Contact.objects.create(pk=contact_id, account=account, type="person", email=f"c{contact_id}@example.com")


def test_link_and_unlink_a_contact(api, live, stripe):
    customer_id = _customer(api)
    _contacts(live, 4821, 77)
    url = f"{CUSTOMERS}{customer_id}/contact/"

    linked = api.put(url, {"contact_id": "4821"}, format="json")

    assert linked.status_code == 200, linked.content
    assert linked.json()["id"] == customer_id and linked.json()["contact_id"] == "4821"
    assert api.get(f"{CUSTOMERS}{customer_id}/").json()["contact_id"] == "4821"
    link = CustomerContactLink.objects.get(customer__stripe_id=customer_id)
    assert link.account == live and link.linked_by is not None
    # Linking again replaces it; a number is taken as the id too.
    assert api.put(url, {"contact_id": 77}, format="json").json()["contact_id"] == "77"
    assert CustomerContactLink.objects.count() == 1

    assert api.delete(url).status_code == 204
    assert api.get(f"{CUSTOMERS}{customer_id}/").json()["contact_id"] is None
    assert api.delete(url).status_code == 204  # already unlinked: the state asked for
    assert not CustomerContactLink.objects.exists()


def test_contact_bad_bodies_are_400s(api, live, stripe):
    customer_id = _customer(api)
    url = f"{CUSTOMERS}{customer_id}/contact/"

    for body in ({}, {"contact_id": "abc"}, {"contact_id": "0"}, {"contact_id": "-3"}, {"contact_id": "9" * 19}):
        assert _fields(api.put(url, body, format="json")) == {"contact_id"}, body
    assert _fields(api.put(url, {"contact_id": "1", "note": "x"}, format="json")) == {"note"}
    assert not CustomerContactLink.objects.exists()


def test_a_registered_contact_check_refuses_an_unknown_contact(api, live, stripe, monkeypatch):
    customer_id = _customer(api)
    seen = []

    def check(*, account, contact_id):
        seen.append((account.pk, contact_id))
        return contact_id == "5"

    monkeypatch.setattr(customer_billing, "_contact_checks", [check])
    url = f"{CUSTOMERS}{customer_id}/contact/"

    refused = api.put(url, {"contact_id": "6"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "contact_not_found"
    assert "contact_id" in refused.json()["error"]["details"]["fields"]
    assert api.put(url, {"contact_id": "5"}, format="json").status_code == 200
    assert seen == [(live.pk, "6"), (live.pk, "5")]


def test_contact_links_need_no_stripe_and_any_member_may_set_them(api, member_api, live, stripe, stripe_server):
    customer_id = _customer(api)
    _contacts(live, 9)
    stripe_server.fail_next("/v1/", 500, count=50)  # the link is ours: Stripe is not called

    assert member_api.put(f"{CUSTOMERS}{customer_id}/contact/", {"contact_id": "9"}, format="json").status_code == 200
    assert member_api.delete(f"{CUSTOMERS}{customer_id}/contact/").status_code == 204
