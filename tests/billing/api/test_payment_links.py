"""Payment links through the SPA's API (SPEC §4, issue 11 item 5): an ad-hoc invoice made in the local Stripe
(items, send_invoice, finalised with its hosted page), once per request id, written to the mirror in the same
request; listed from our links joined with the mirror; voided. Stripe's refusals and failures."""

from datetime import UTC, datetime, timedelta

import pytest

from billing.models import Invoice, PaymentLink
from billing.services.payment_links import PAYMENT_LINK_MARKER, due_timestamp
from billing.stripe.mirror import upsert_objects
from tests.helpers.threads import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/billing/payment-links/"


@pytest.fixture
def customer(api, live):
    response = api.post("/api/v1/billing/customers/", {"email": "payer@example.com", "name": "Payer"}, format="json")
    assert response.status_code == 201
    return response.json()["id"]


def _price(stripe, live, *, amount=2500, currency="eur", recurring=False) -> str:
    product = stripe.post("/v1/products", name="Workshop")
    params = {"product": product["id"], "unit_amount": amount, "currency": currency}
    if recurring:
        params["recurring"] = {"interval": "month"}
    price = stripe.post("/v1/prices", **params)
    upsert_objects(live, "price", [price])  # the catalogue as the mirror knows it
    return price["id"]


def _body(customer, **overrides) -> dict:
    return {
        "customer": customer,
        "line_items": [{"amount": 12000, "currency": "EUR", "description": "Design workshop", "quantity": 2}],
        "days_until_due": 30,
        "memo": "Thank you for your business.",
        "request_id": "link-1",
        **overrides,
    }


def test_create_makes_a_finalised_invoice_in_stripe_and_the_mirror(api, live, stripe, customer):
    price = _price(stripe, live, amount=2500)
    body = _body(customer, line_items=[*_body(customer)["line_items"], {"price": price}])

    response = api.post(URL, body, format="json")

    assert response.status_code == 201, response.content
    link = response.json()
    assert link["id"].startswith("in_") and link["url"].startswith("http")
    assert (link["status"], link["currency"], link["amount_due"]) == ("open", "eur", 2 * 12000 + 2500)
    assert (link["customer"], link["customer_email"], link["memo"]) == (customer, "payer@example.com", body["memo"])
    assert link["request_id"] == "link-1" and link["due_date"] is not None
    assert [(line["description"], line["quantity"], line["amount"]) for line in link["lines"]][0] == (
        "Design workshop",
        2,
        24000,
    )
    assert link["lines"][1]["price"] == price
    in_stripe = stripe.get(f"/v1/invoices/{link['id']}")
    assert in_stripe["status"] == "open" and in_stripe["hosted_invoice_url"] == link["url"]
    assert (in_stripe["collection_method"], in_stripe["description"]) == ("send_invoice", body["memo"])
    assert in_stripe["metadata"] == {PAYMENT_LINK_MARKER: "link-1"}
    assert len(in_stripe["lines"]["data"]) == 2
    # Written to the mirror in the same request: the SPA reads it at once.
    row = Invoice.objects.get(account=live, stripe_id=link["id"])
    assert (row.status, row.amount_due, row.last_event_created is not None) == ("open", 26500, True)
    assert PaymentLink.objects.get(account=live).invoice_stripe_id == link["id"]
    assert api.get(f"{URL}{link['id']}/").json() == link
    assert [item["id"] for item in api.get(URL).json()["results"]] == [link["id"]]


def test_a_due_date_is_the_end_of_that_day(api, live, stripe, customer):
    due = (datetime.now(UTC) + timedelta(days=10)).date()

    body = _body(customer, due_date=due.isoformat())
    del body["days_until_due"]
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    assert stripe.get(f"/v1/invoices/{response.json()['id']}")["due_date"] == due_timestamp(due)
    assert response.json()["due_date"].startswith(f"{due.isoformat()}T23:59:59")


def test_the_same_request_id_answers_the_same_link(api, live, stripe, customer):
    first = api.post(URL, _body(customer), format="json")
    second = api.post(URL, _body(customer), format="json")

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    invoices = stripe.list_all("/v1/invoices", customer=customer)
    assert len(invoices) == 1 and len(invoices[0]["lines"]["data"]) == 1
    assert PaymentLink.objects.count() == 1

    # The id belongs to that link: another customer under it is a conflict, not a second link.
    other = api.post("/api/v1/billing/customers/", {"email": "other@example.com"}, format="json").json()["id"]
    reused = api.post(URL, _body(other), format="json")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "request_id_reused"
    assert stripe.list_all("/v1/invoices", customer=other) == []


def test_the_same_request_id_at_once_makes_one_link(requires_postgres, api, live, stripe, customer):
    responses = run_concurrently(lambda _: api.post(URL, _body(customer), format="json"), 4)

    assert {response.status_code for response in responses} == {201}, [r.content for r in responses]
    assert len({response.json()["id"] for response in responses}) == 1
    invoices = stripe.list_all("/v1/invoices", customer=customer)
    assert len(invoices) == 1 and len(invoices[0]["lines"]["data"]) == 1


def test_a_creation_stopped_by_stripe_resumes_with_the_same_request_id(api, live, stripe, stripe_server, customer):
    body = _body(
        customer,
        line_items=[*_body(customer)["line_items"], {"amount": 500, "currency": "eur", "description": "Travel"}],
    )
    stripe_server.fail_next("/v1/invoiceitems", 500)  # the invoice is made, its first item is not

    failed = api.post(URL, body, format="json")

    assert failed.status_code == 502 and failed.json()["error"]["code"] == "stripe_unavailable"
    assert not Invoice.objects.exists()  # nothing in the mirror
    assert api.get(URL).json()["results"] == []

    resumed = api.post(URL, body, format="json")

    assert resumed.status_code == 201, resumed.content
    invoices = stripe.list_all("/v1/invoices", customer=customer)
    assert [invoice["id"] for invoice in invoices] == [resumed.json()["id"]]  # the draft made first, finished
    assert [line["amount"] for line in invoices[0]["lines"]["data"]] == [24000, 500]
    assert resumed.json()["amount_due"] == 24500


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"request_id": None}, {"request_id"}),
        ({"line_items": []}, {"line_items"}),
        ({"due_date": "2001-01-01", "days_until_due": None}, {"due_date"}),
        ({"due_date": "2999-01-01", "days_until_due": None}, {"due_date"}),
        ({"due_date": (datetime.now(UTC) + timedelta(days=3)).date().isoformat()}, {"due_date", "days_until_due"}),
        ({"days_until_due": None}, {"due_date", "days_until_due"}),
        ({"days_until_due": 0}, {"days_until_due"}),
        ({"customer": "cus x"}, {"customer"}),
        ({"memo": "m" * 1501}, {"memo"}),
        ({"colour": "red"}, {"colour"}),
        ({"line_items": [{"amount": 100, "description": "No currency"}]}, {"line_items"}),
        ({"line_items": [{"price": "price_1", "amount": 100}]}, {"line_items"}),
        ({"line_items": [{"amount": 100, "currency": "eur", "description": "x", "ammount": 1}]}, {"line_items"}),
        ({"line_items": [{"amount": 0, "currency": "euro", "description": "x", "quantity": 0}]}, {"line_items"}),
    ],
)
def test_bad_body_is_a_400_naming_fields(api, live, stripe, customer, change, fields):
    body = {key: value for key, value in (_body(customer) | change).items() if value is not None}

    response = api.post(URL, body, format="json")

    assert response.status_code == 400, response.content
    assert fields <= set(response.json()["error"]["details"]["fields"])
    assert stripe.list_all("/v1/invoices") == [] and not PaymentLink.objects.exists()


def test_a_line_items_errors_name_the_item_and_field(api, live, customer):
    items = [
        {"amount": 100, "currency": "eur", "description": "fine"},
        {"amount": "ten", "currency": "eur", "description": "x", "ammount": 1},
    ]
    fields = api.post(URL, _body(customer, line_items=items), format="json").json()["error"]["details"]["fields"]
    assert list(fields["line_items"]) == ["1"] and {"ammount", "amount"} <= set(fields["line_items"]["1"])


def test_line_items_in_different_currencies_are_a_400(api, live, stripe, customer):
    usd_price = _price(stripe, live, currency="usd")
    for items in (
        [
            {"amount": 100, "currency": "eur", "description": "a"},
            {"amount": 100, "currency": "usd", "description": "b"},
        ],
        [{"amount": 100, "currency": "eur", "description": "a"}, {"price": usd_price}],
    ):
        response = api.post(URL, _body(customer, line_items=items), format="json")

        assert response.status_code == 400
        assert (
            "one currency" in response.json()["error"]["message"] and "eur, usd" in response.json()["error"]["message"]
        )
        assert "line_items" in response.json()["error"]["details"]["fields"]
    assert stripe.list_all("/v1/invoices") == [] and not PaymentLink.objects.exists()


def test_a_customer_or_price_this_account_does_not_have_is_a_404(api, live, stripe, other_account, customer):
    upsert_objects(other_account, "customer", [{"id": "cus_theirs", "object": "customer"}])
    upsert_objects(other_account, "price", [{"id": "price_theirs", "object": "price", "currency": "eur"}])

    theirs = api.post(URL, _body("cus_theirs"), format="json")
    assert theirs.status_code == 404 and "customer" in theirs.json()["error"]["details"]["fields"]
    their_price = api.post(URL, _body(customer, line_items=[{"price": "price_theirs"}]), format="json")
    assert their_price.status_code == 404
    assert their_price.json()["error"]["details"]["fields"]["line_items"]["0"] == {
        "price": ["No price price_theirs in this account."]
    }
    assert stripe.list_all("/v1/invoices") == []


def test_stripe_refusing_is_a_422_with_its_reason(api, live, stripe, customer):
    recurring = _price(stripe, live, recurring=True)

    bad_price = api.post(URL, _body(customer, line_items=[{"price": recurring}]), format="json")

    assert bad_price.status_code == 422 and bad_price.json()["error"]["code"] == "stripe_rejected"
    assert "recurring" in bad_price.json()["error"]["message"]
    # In our mirror, gone from Stripe: Stripe answers "No such customer".
    upsert_objects(live, "customer", [{"id": "cus_ghost", "object": "customer"}])
    ghost = api.post(URL, _body("cus_ghost", request_id="link-2"), format="json")
    assert ghost.status_code == 422 and "cus_ghost" in ghost.json()["error"]["message"]
    assert not Invoice.objects.exists()


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_stripe_down_is_a_502_and_nothing_is_written(api, live, stripe, stripe_server, settings, customer, fault):
    if fault == "timeout":
        settings.STRIPE_TIMEOUT_SECONDS = 0.5
        stripe_server.hang_next("/v1/invoices", seconds=5)
    else:
        stripe_server.fail_next("/v1/invoices", 500)

    response = api.post(URL, _body(customer), format="json")

    assert response.status_code == 502 and response.json()["error"]["code"] == "stripe_unavailable"
    assert not Invoice.objects.exists() and stripe.list_all("/v1/invoices") == []


def test_void_voids_in_stripe_and_the_mirror(api, live, stripe, customer):
    link = api.post(URL, _body(customer), format="json").json()

    voided = api.post(f"{URL}{link['id']}/void/", format="json")

    assert voided.status_code == 200, voided.content
    assert voided.json()["status"] == "void" and voided.json()["amount_remaining"] == 24000
    assert stripe.get(f"/v1/invoices/{link['id']}")["status"] == "void"
    assert Invoice.objects.get(stripe_id=link["id"]).status == "void"
    assert [item["id"] for item in api.get(URL, {"status": "void"}).json()["results"]] == [link["id"]]
    assert api.get(URL, {"status": "open"}).json()["results"] == []
    # Sent again (a retry): the same answer.
    assert api.post(f"{URL}{link['id']}/void/", format="json").json()["status"] == "void"


def test_a_paid_link_cannot_be_voided(api, live, stripe, customer):
    link = api.post(URL, _body(customer), format="json").json()
    stripe.post(f"/v1/invoices/{link['id']}/pay", paid_out_of_band=True)  # the customer paid (no webhook here)

    response = api.post(f"{URL}{link['id']}/void/", format="json")

    assert response.status_code == 422 and response.json()["error"]["code"] == "stripe_rejected"
    assert "paid" in response.json()["error"]["message"]
    assert stripe.get(f"/v1/invoices/{link['id']}")["status"] == "paid"
    assert Invoice.objects.get(stripe_id=link["id"]).status == "open"  # unchanged until Stripe says otherwise


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_void_with_stripe_down_is_a_502_and_the_mirror_is_unchanged(
    api, live, stripe, stripe_server, settings, customer, fault
):
    link = api.post(URL, _body(customer), format="json").json()
    if fault == "timeout":
        settings.STRIPE_TIMEOUT_SECONDS = 0.5
        stripe_server.hang_next(f"/v1/invoices/{link['id']}/void", seconds=5)
    else:
        stripe_server.fail_next(f"/v1/invoices/{link['id']}/void", 500)

    response = api.post(f"{URL}{link['id']}/void/", format="json")

    assert response.status_code == 502
    assert Invoice.objects.get(stripe_id=link["id"]).status == "open"
    assert stripe.get(f"/v1/invoices/{link['id']}")["status"] == "open"


def test_void_takes_no_body(api, live, stripe, customer):
    link = api.post(URL, _body(customer), format="json").json()
    response = api.post(f"{URL}{link['id']}/void/", {"reason": "x"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()["error"]["details"]["fields"]
    assert stripe.get(f"/v1/invoices/{link['id']}")["status"] == "open"


def _mirrored_link(
    account, n: int, *, prefix="", status="open", customer="cus_1", currency="eur", created=1_700_000_000
):
    invoice_id = f"in_{prefix}{n:05d}"
    upsert_objects(
        account,
        "invoice",
        [
            {
                "id": invoice_id,
                "object": "invoice",
                "customer": customer,
                "status": status,
                "currency": currency,
                "amount_due": 1000 + n,
                "created": created + n,
                "due_date": created + n + 86400,
                "hosted_invoice_url": f"https://invoice.example/{invoice_id}",
            }
        ],
    )
    PaymentLink.objects.create(
        account=account, request_id=f"r{n}", invoice_stripe_id=invoice_id, customer_stripe_id=customer, memo=f"m{n}"
    )
    return invoice_id


def test_another_accounts_link_is_a_404(api, live, other_account):
    theirs = _mirrored_link(other_account, 1, prefix="theirs")
    # An invoice of this account that no payment link made is not a payment link either.
    upsert_objects(live, "invoice", [{"id": "in_subscription", "object": "invoice", "status": "open"}])

    for invoice_id in (theirs, "in_subscription"):
        assert api.get(f"{URL}{invoice_id}/").status_code == 404
        assert api.post(f"{URL}{invoice_id}/void/", format="json").status_code == 404
    assert api.get(URL).json()["results"] == []


def test_members_read_and_only_admins_write(member_api, live, customer):
    invoice_id = _mirrored_link(live, 1)

    assert member_api.get(URL).status_code == 200
    assert member_api.get(f"{URL}{invoice_id}/").status_code == 200
    assert member_api.post(URL, _body(customer), format="json").status_code == 403
    assert member_api.post(f"{URL}{invoice_id}/void/", format="json").status_code == 403


def test_no_connection_is_a_409(api, account):
    upsert_objects(account, "customer", [{"id": "cus_1", "object": "customer"}])
    response = api.post(URL, _body("cus_1"), format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stripe_not_connected"


def test_filters_and_ordering(api, live):
    for n in range(6):
        _mirrored_link(live, n, status=("open", "paid", "void")[n % 3], customer=f"cus_{n % 2}")

    def ids(**params):
        return [item["id"] for item in api.get(URL, params).json()["results"]]

    assert ids(status="paid") == ["in_00004", "in_00001"]
    assert ids(customer="cus_1", status="open") == ["in_00003"]
    assert ids(ordering="amount_due", page_size=2) == ["in_00000", "in_00001"]
    assert ids(ordering="-due_date")[0] == "in_00005"
    assert api.get(URL, {"status": "unpaid"}).status_code == 400
    first = api.get(URL, {"page_size": 4}).json()
    assert [item["memo"] for item in first["results"]] == ["m5", "m4", "m3", "m2"]
    assert [item["id"] for item in api.get(first["next"]).json()["results"]] == [
        "in_00001",
        "in_00000",
    ]


def test_list_costs_a_constant_number_of_queries(api, live, django_assert_max_num_queries):
    upsert_objects(live, "customer", [{"id": "cus_1", "object": "customer", "email": "c@example.com"}])
    for n in range(3):
        _mirrored_link(live, n)
    with django_assert_max_num_queries(6):
        small = api.get(URL, {"page_size": 200})
    for n in range(3, 120):
        _mirrored_link(live, n)
    with django_assert_max_num_queries(6):
        large = api.get(URL, {"page_size": 200})
    assert len(small.json()["results"]) == 3 and len(large.json()["results"]) == 120
    assert {item["customer_email"] for item in large.json()["results"]} == {"c@example.com"}
