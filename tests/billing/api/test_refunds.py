"""The account refunding its own customer (SPEC §4, §9's rules) against the local Stripe, which refuses
over-refunds as Stripe does: what is left, partial refunds adding up, once per refund_request_id (in turn and at
once, on PostgreSQL), Stripe's refusals and failures, and the record of who asked and why."""

from datetime import timedelta

import pytest
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from billing.api.refunds import ChargeRefundView
from billing.models import Charge, Refund, RefundRequest
from billing.services.refunds import PENDING_ABANDONED_AFTER
from billing.stripe.mirror import upsert_objects
from tests.conftest import token_for
from tests.helpers.threads import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS_URL = "/api/v1/billing/refund-requests/"


def url(charge_id: str) -> str:
    return f"/api/v1/billing/charges/{charge_id}/refund/"


def paid_charge(stripe, account, amount: int = 1000, currency: str = "usd") -> str:
    """A charge paid in the local Stripe, synced into the account's mirror."""
    intent = stripe.post(
        "/v1/payment_intents", amount=amount, currency=currency, payment_method="pm_card_visa", confirm=True
    )
    latest = intent["latest_charge"]
    charge = stripe.get(f"/v1/charges/{latest if isinstance(latest, str) else latest['id']}")
    upsert_objects(account, "charge", [charge])
    return charge["id"]


def body(request_id: str = "refund-0001", **fields) -> dict:
    return {"reason": "requested_by_customer", "refund_request_id": request_id, **fields}


def mirrored(charge_id: str) -> Charge:
    return Charge.objects.get(stripe_id=charge_id)


def test_a_refund_goes_to_stripe_then_to_the_mirror_with_who_and_why(api, live, owner, stripe):
    charge_id = paid_charge(stripe, live, 1000)

    response = api.post(url(charge_id), body(amount=300, note="Ticket #12: one seat unused"), format="json")

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["status"] == "succeeded" and answer["refund"].startswith("re_")
    assert (answer["amount"], answer["refunded_amount"], answer["currency"]) == (300, 300, "usd")
    assert answer["charge_totals"] == {
        "id": charge_id,
        "amount": 1000,
        "amount_refunded": 300,
        "refunded": False,
        "remaining": 700,
        "currency": "usd",
    }
    assert answer["requested_by"]["username"] == owner.username
    [in_stripe] = stripe.list_all("/v1/refunds", charge=charge_id)
    assert in_stripe["id"] == answer["refund"] and in_stripe["amount"] == 300
    assert in_stripe["reason"] == "requested_by_customer"
    assert in_stripe["metadata"] == {"refund_request_id": "refund-0001"}
    # The mirror has both in the same request, stamped so that older webhooks cannot undo them.
    refund = Refund.objects.get(account=live, stripe_id=answer["refund"])
    assert (refund.charge_stripe_id, refund.amount, refund.reason) == (charge_id, 300, "requested_by_customer")
    charge = mirrored(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (300, False) and charge.last_event_created is not None
    row = RefundRequest.objects.get(account=live, request_id="refund-0001")
    assert (row.requested_by, row.reason, row.note, row.status) == (
        owner,
        "requested_by_customer",
        "Ticket #12: one seat unused",
        "succeeded",
    )


def test_partial_refunds_add_up_and_no_more_than_what_is_left(api, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)

    assert api.post(url(charge_id), body("part-0001", amount=400), format="json").status_code == 201
    assert api.post(url(charge_id), body("part-0002", amount=350), format="json").status_code == 201
    over = api.post(url(charge_id), body("part-0003", amount=251), format="json")

    assert over.status_code == 422
    error = over.json()["error"]
    assert error["code"] == "refund_exceeds_remaining" and "250" in error["message"]
    assert error["details"]["remaining"] == 250
    assert sorted(r["amount"] for r in stripe.list_all("/v1/refunds", charge=charge_id)) == [350, 400]
    assert RefundRequest.objects.get(request_id="part-0003").status == "failed"

    rest = api.post(url(charge_id), body("part-0004"), format="json")  # no amount: what is left
    assert rest.status_code == 201 and rest.json()["refunded_amount"] == 250
    assert rest.json()["amount"] is None and rest.json()["charge_totals"]["refunded"] is True
    assert (mirrored(charge_id).amount_refunded, mirrored(charge_id).refunded) == (1000, True)

    again = api.post(url(charge_id), body("part-0005", amount=1), format="json")
    assert again.status_code == 422 and again.json()["error"]["code"] == "charge_already_refunded"
    assert stripe.get(f"/v1/charges/{charge_id}")["amount_refunded"] == 1000
    assert Refund.objects.filter(charge_stripe_id=charge_id).count() == 3


def test_stripe_knows_better_than_a_stale_mirror(api, live, stripe):
    # Refunded in Stripe's dashboard; the mirror has not heard yet: our check passes, Stripe's refuses.
    charge_id = paid_charge(stripe, live, 1000)
    stripe.post("/v1/refunds", charge=charge_id, amount=900)

    response = api.post(url(charge_id), body(amount=200), format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "refund_exceeds_remaining"
    assert "(100)" in error["message"] and error["details"]["stripe_code"] == "amount_too_large"
    assert mirrored(charge_id).amount_refunded == 0 and not Refund.objects.exists()
    assert RefundRequest.objects.get().error.startswith("Stripe rejected the request: Refund amount (200)")

    stripe.post("/v1/refunds", charge=charge_id)
    full = api.post(url(charge_id), body("refund-0002", amount=1), format="json")
    assert full.status_code == 422 and full.json()["error"]["code"] == "charge_already_refunded"


def test_the_same_request_id_twice_refunds_once(api, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)

    first = api.post(url(charge_id), body("double-click", amount=500), format="json")
    second = api.post(url(charge_id), body("double-click", amount=500), format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["refund"] == second.json()["refund"]
    assert second.json()["charge_totals"]["amount_refunded"] == 500
    assert len(stripe.list_all("/v1/refunds", charge=charge_id)) == 1
    assert RefundRequest.objects.count() == 1

    # The id names that refund: another amount, reason or charge with it is a mistake, said so.
    other = api.post(url(charge_id), body("double-click", amount=400), format="json")
    assert other.status_code == 409 and other.json()["error"]["code"] == "refund_request_id_reused"
    assert other.json()["error"]["details"] == {"charge": charge_id, "amount": 500, "reason": "requested_by_customer"}
    assert len(stripe.list_all("/v1/refunds", charge=charge_id)) == 1


def test_a_request_id_while_its_first_request_runs_is_a_409(api, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)
    RefundRequest.objects.create(
        account=live, request_id="in-flight-1", charge_stripe_id=charge_id, amount=100, reason="duplicate"
    )

    response = api.post(url(charge_id), body("in-flight-1", amount=100, reason="duplicate"), format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "refund_in_progress"
    assert stripe.list_all("/v1/refunds", charge=charge_id) == []


def test_a_pending_request_abandoned_by_a_dead_process_may_be_retried(api, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)
    row = RefundRequest.objects.create(
        account=live, request_id="abandoned-1", charge_stripe_id=charge_id, amount=100, reason="duplicate"
    )
    RefundRequest.objects.filter(pk=row.pk).update(
        updated_at=timezone.now() - PENDING_ABANDONED_AFTER - timedelta(seconds=1)
    )

    response = api.post(url(charge_id), body("abandoned-1", amount=100, reason="duplicate"), format="json")

    assert response.status_code == 201 and response.json()["refunded_amount"] == 100
    assert len(stripe.list_all("/v1/refunds", charge=charge_id)) == 1


def test_bad_bodies_are_400s_naming_fields(api, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)
    for sent, fields in (
        ({}, {"reason", "refund_request_id"}),
        (body(reason="changed_my_mind"), {"reason"}),
        (body(amount=0), {"amount"}),
        (body(amount=-5), {"amount"}),
        (body(amount=12.5), {"amount"}),
        (body(amount="ten"), {"amount"}),
        (body("short"), {"refund_request_id"}),
        (body("x" * 201), {"refund_request_id"}),
        (body("has blanks in it"), {"refund_request_id"}),
        (body(charge="ch_other"), {"charge"}),
        (body(note="n" * 2001), {"note"}),
    ):
        response = api.post(url(charge_id), sent, format="json")
        assert response.status_code == 400, sent
        assert set(response.json()["error"]["details"]["fields"]) == fields, sent
    assert stripe.list_all("/v1/refunds", charge=charge_id) == []
    assert not RefundRequest.objects.exists()


def test_the_body_is_json(api, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)

    response = api.post(url(charge_id), body(amount=100))  # multipart, as a form would send it

    assert response.status_code == 415
    assert stripe.list_all("/v1/refunds", charge=charge_id) == []


def test_another_accounts_charge_or_an_unknown_one_is_a_404(api, live, stripe, other_account):
    theirs = paid_charge(stripe, other_account, 1000)

    assert api.post(url(theirs), body(), format="json").status_code == 404
    assert api.post(url("ch_nothing"), body("refund-0002"), format="json").status_code == 404
    assert stripe.list_all("/v1/refunds", charge=theirs) == []
    assert not RefundRequest.objects.exists()


def test_stripe_refusing_is_a_422_with_its_reason(api, live, stripe):
    # In our mirror, unknown to Stripe.
    upsert_objects(
        live,
        "charge",
        [{"id": "ch_ghost", "object": "charge", "amount": 500, "currency": "usd", "status": "succeeded"}],
    )

    response = api.post(url("ch_ghost"), body(), format="json")

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "stripe_rejected" and "No such charge: 'ch_ghost'" in error["message"]
    assert not Refund.objects.exists() and mirrored("ch_ghost").amount_refunded == 0
    row = RefundRequest.objects.get()
    assert row.status == "failed" and row.error == error["message"]


@pytest.mark.parametrize("fault", [500, "timeout"])
def test_stripe_down_is_a_502_nothing_mirrored_and_the_same_id_retries_once(
    api, live, stripe, stripe_server, settings, fault
):
    charge_id = paid_charge(stripe, live, 1000)
    if fault == "timeout":
        settings.STRIPE_TIMEOUT_SECONDS = 0.5
        stripe_server.hang_next("/v1/refunds", seconds=5)
    else:
        stripe_server.fail_next("/v1/refunds", 500)

    response = api.post(url(charge_id), body("retry-me-1", amount=300), format="json")

    assert response.status_code == 502 and response.json()["error"]["code"] == "stripe_unavailable"
    assert not Refund.objects.exists() and mirrored(charge_id).amount_refunded == 0
    assert RefundRequest.objects.get().status == "failed"

    # Retried with the same id: the same idempotency key, so Stripe makes it now or replays what it did.
    retry = api.post(url(charge_id), body("retry-me-1", amount=300), format="json")
    assert retry.status_code == 201 and retry.json()["status"] == "succeeded"
    assert len(stripe.list_all("/v1/refunds", charge=charge_id)) == 1
    assert mirrored(charge_id).amount_refunded == 300


def test_only_owners_and_admins_refund_and_members_read_the_record(api, member_api, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)

    assert member_api.post(url(charge_id), body(), format="json").status_code == 403
    assert stripe.list_all("/v1/refunds", charge=charge_id) == []

    api.post(url(charge_id), body(amount=100, note="why"), format="json")
    listed = member_api.get(REQUESTS_URL)
    assert listed.status_code == 200
    [record] = listed.json()["results"]
    assert (record["charge"], record["amount"], record["note"], record["status"]) == (
        charge_id,
        100,
        "why",
        "succeeded",
    )


def test_no_connection_is_a_409_and_claims_nothing(api, account):
    upsert_objects(account, "charge", [{"id": "ch_1", "object": "charge", "amount": 500, "currency": "usd"}])

    response = api.post(url("ch_1"), body(), format="json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "stripe_not_connected"
    assert not RefundRequest.objects.exists()


def test_the_record_list_filters_by_charge_and_status_in_constant_queries(
    api, live, stripe, other_account, owner, django_assert_max_num_queries
):
    first, second = paid_charge(stripe, live, 1000), paid_charge(stripe, live, 2000)
    api.post(url(first), body("list-0001", amount=100), format="json")
    api.post(url(first), body("list-0002", amount=5000), format="json")  # refused: failed
    RefundRequest.objects.create(account=other_account, request_id="list-0003", charge_stripe_id=first, reason="x")

    assert {r["refund_request_id"] for r in api.get(REQUESTS_URL, {"charge": first}).json()["results"]} == {
        "list-0001",
        "list-0002",
    }
    assert [r["refund_request_id"] for r in api.get(REQUESTS_URL, {"status": "failed"}).json()["results"]] == [
        "list-0002"
    ]
    assert api.get(REQUESTS_URL, {"status": "nonsense"}).status_code == 400
    assert api.get(REQUESTS_URL, {"status": ""}).status_code == 400
    assert api.get(REQUESTS_URL, {"ordering": ""}).status_code == 400

    with django_assert_max_num_queries(6):
        small = api.get(REQUESTS_URL, {"page_size": 200})
    RefundRequest.objects.bulk_create(
        RefundRequest(
            account=live, request_id=f"bulk-{i:04d}", charge_stripe_id=second, reason="duplicate", requested_by=owner
        )
        for i in range(60)
    )
    with django_assert_max_num_queries(6):
        large = api.get(REQUESTS_URL, {"page_size": 200})
    assert len(small.json()["results"]) == 2 and len(large.json()["results"]) == 62


# --- at once, on PostgreSQL ----------------------------------------------------------------------------------

CLIENTS = 8


@pytest.fixture
def clients(requires_postgres, owner, live):
    token = token_for(owner, live)

    def make():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return [make() for _ in range(CLIENTS)]


@pytest.mark.postgres
def test_the_same_request_id_sent_at_once_refunds_once(clients, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)

    responses = run_concurrently(
        lambda i: clients[i].post(url(charge_id), body("same-at-once", amount=100), format="json"), CLIENTS
    )

    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} <= {"refund_in_progress"}
    assert len(stripe.list_all("/v1/refunds", charge=charge_id)) == 1
    assert stripe.get(f"/v1/charges/{charge_id}")["amount_refunded"] == 100
    assert mirrored(charge_id).amount_refunded == 100
    assert RefundRequest.objects.get().status == "succeeded"


@pytest.mark.postgres
def test_different_requests_racing_for_the_last_of_a_charge_never_over_refund(clients, live, stripe):
    charge_id = paid_charge(stripe, live, 1000)

    responses = run_concurrently(
        lambda i: clients[i].post(url(charge_id), body(f"race-{i:04d}", amount=300), format="json"), CLIENTS
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [422] * (CLIENTS - 3), codes
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 422} == {"refund_exceeds_remaining"}
    in_stripe = stripe.list_all("/v1/refunds", charge=charge_id)
    assert sum(r["amount"] for r in in_stripe) == 900 and len(in_stripe) == 3
    # Each answer carried the charge as it was when its refund was made: the mirror keeps the newest total.
    assert mirrored(charge_id).amount_refunded == 900
    assert Refund.objects.filter(charge_stripe_id=charge_id).count() == 3
    assert RefundRequest.objects.filter(status="succeeded").count() == 3


def test_the_refund_path_is_its_own_view_beside_the_charges_routes():
    # Listed before the router's routes in billing/api/urls.py: `charges/<id>/refund/` is never a charges detail.
    assert resolve(url("ch_1")).func.view_class is ChargeRefundView
    assert resolve(url("ch_1")).kwargs == {"charge_id": "ch_1"}
