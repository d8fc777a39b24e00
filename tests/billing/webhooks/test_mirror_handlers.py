"""Account-side handlers (SPEC §3): signed deliveries keep the mirror in step, older events never overwrite
newer state, deletions are marked, and each event family lands in its model."""

import pytest

from billing.models import (
    Charge,
    Customer,
    Dispute,
    Invoice,
    PaymentMethod,
    Payout,
    Price,
    Product,
    Refund,
    Subscription,
    WebhookEvent,
)
from billing.webhooks import registry as handlers
from tests.billing.stripe_objects import localstripe, today
from tests.helpers.stripe_signing import make_event
from tests.helpers.webhooks import ACCOUNT_SECRET, PLATFORM_SECRET, PLATFORM_URL, account_url, post_event

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status
T0 = 1_750_000_000


@pytest.fixture
def deliver(connected, django_capture_on_commit_callbacks):
    """Posts a signed account event and runs its processing (eager Celery); answers the stored event."""

    def _deliver(event_type, obj, *, created=T0, event_id=None, **kwargs):
        event = make_event(event_type, obj, created=created, event_id=event_id, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(account_url(connected), event, ACCOUNT_SECRET)
        assert response.status_code == 200, response.content
        return WebhookEvent.objects.get(account=connected, stripe_event_id=event["id"])

    return _deliver


def mirrored(model, account, stripe_id):
    return model.objects.get(account=account, stripe_id=stripe_id)


# --- ordering -------------------------------------------------------------------------------------------------


def test_an_older_event_arriving_after_a_newer_one_leaves_the_newer_state(connected, deliver):
    new = deliver("customer.updated", today("customer", email="new@example.com"), created=T0 + 10)
    old = deliver("customer.updated", today("customer", email="old@example.com"), created=T0)

    customer = mirrored(Customer, connected, today("customer")["id"])
    assert customer.email == "new@example.com"
    assert (customer.last_event_created, customer.last_event_id) == (T0 + 10, new.stripe_event_id)
    # The older event is processed (nothing to retry), it just changed nothing.
    old.refresh_from_db()
    assert old.status == Status.PROCESSED


def test_events_of_the_same_second_are_ordered_by_event_id(connected, deliver):
    deliver("customer.updated", today("customer", name="B"), created=T0, event_id="evt_B")
    deliver("customer.updated", today("customer", name="A"), created=T0, event_id="evt_A")
    assert mirrored(Customer, connected, today("customer")["id"]).name == "B"


def test_a_deletion_marks_the_row_and_a_late_update_does_not_revive_it(connected, deliver):
    deliver("customer.created", today("customer"), created=T0)
    deliver("customer.deleted", today("customer"), created=T0 + 5)
    deliver("customer.updated", today("customer", email="late@example.com"), created=T0 + 1)

    customer = mirrored(Customer, connected, today("customer")["id"])
    assert customer.deleted is True and customer.email != "late@example.com"


def test_a_deleted_stub_is_marked_deleted_too(connected, deliver):
    deliver("customer.deleted", today("deleted_customer"))
    assert mirrored(Customer, connected, today("deleted_customer")["id"]).deleted is True


# --- one family at a time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "obj", "model"),
    [
        ("product.created", today("product"), Product),
        ("price.created", today("price"), Price),
        ("plan.created", localstripe("plan"), Price),
        ("invoice.finalized", today("invoice", status="open"), Invoice),
        ("payment_method.attached", today("payment_method"), PaymentMethod),
        ("charge.succeeded", today("charge"), Charge),
        ("charge.dispute.created", today("dispute"), Dispute),
        ("charge.refund.updated", today("refund"), Refund),
        ("refund.created", today("refund"), Refund),
        ("payout.paid", today("payout", status="paid"), Payout),
        ("customer.subscription.created", today("subscription"), Subscription),
        ("customer.subscription.trial_will_end", today("subscription"), Subscription),
        ("customer.created", localstripe("customer"), Customer),
        ("invoice.payment_succeeded", localstripe("invoice"), Invoice),
        ("customer.subscription.created", localstripe("subscription"), Subscription),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_family_lands_in_its_model(connected, deliver, event_type, obj, model):
    event = deliver(event_type, obj)
    row = mirrored(model, connected, obj["id"])
    assert event.status == Status.PROCESSED
    assert row.deleted is False and row.last_event_id == event.stripe_event_id and row.data["id"] == obj["id"]


@pytest.mark.parametrize(
    ("family", "obj", "model"),
    [
        ("product", today("product"), Product),
        ("price", today("price"), Price),
        ("plan", localstripe("plan"), Price),
        ("invoice", today("invoice"), Invoice),  # a draft invoice can be deleted
    ],
    ids=["product", "price", "plan", "invoice"],
)
def test_deleted_catalogue_objects_and_draft_invoices_are_marked_deleted(connected, deliver, family, obj, model):
    deliver(f"{family}.created", obj)
    deliver(f"{family}.deleted", obj, created=T0 + 1)
    row = mirrored(model, connected, obj["id"])
    assert row.deleted is True and row.data["id"] == obj["id"]


def test_a_cancelled_subscription_keeps_its_row_with_status_canceled(connected, deliver):
    deliver("customer.subscription.created", today("subscription"))
    deliver("customer.subscription.deleted", today("subscription", status="canceled"), created=T0 + 1)
    subscription = mirrored(Subscription, connected, today("subscription")["id"])
    assert (subscription.status, subscription.deleted) == ("canceled", False)


def test_subscription_items_follow_the_subscription(connected, deliver):
    deliver("customer.subscription.updated", today("subscription"))
    subscription = mirrored(Subscription, connected, today("subscription")["id"])
    sent = [item["id"] for item in today("subscription")["items"]["data"]]
    assert sorted(subscription.items.values_list("stripe_id", flat=True)) == sorted(sent)


def test_a_detached_payment_method_is_not_deleted(connected, deliver):
    deliver("payment_method.attached", today("payment_method", customer="cus_X"))
    deliver("payment_method.detached", today("payment_method", customer=None), created=T0 + 1)
    method = mirrored(PaymentMethod, connected, today("payment_method")["id"])
    assert method.deleted is False and method.customer_stripe_id == ""


def test_a_refunded_charge_brings_its_embedded_refunds(connected, deliver):
    refund = today("refund", amount=60)
    charge = today("charge", amount_refunded=60, refunded=False)
    charge["refunds"] = {"object": "list", "data": [refund], "has_more": False}
    deliver("charge.refunded", charge)

    assert mirrored(Charge, connected, charge["id"]).amount_refunded == 60
    mirrored_refund = mirrored(Refund, connected, refund["id"])
    assert (mirrored_refund.amount, mirrored_refund.data["charge"]) == (60, charge["id"])


def test_a_later_refund_update_wins_over_the_copy_embedded_in_an_older_charge_event(connected, deliver):
    refund = today("refund")
    charge = today("charge")
    charge["refunds"] = {"object": "list", "data": [refund], "has_more": False}
    deliver("charge.refund.updated", {**refund, "status": "failed"}, created=T0 + 10)
    deliver("charge.refunded", charge, created=T0)
    assert mirrored(Refund, connected, refund["id"]).status == "failed"


def test_a_payment_intent_mirrors_its_expanded_latest_charge(connected, deliver):
    charge = localstripe("charge")
    event = deliver("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent", "latest_charge": charge})
    assert event.status == Status.PROCESSED
    assert mirrored(Charge, connected, charge["id"]).last_event_id == event.stripe_event_id


def test_a_payment_intent_with_only_a_charge_id_has_nothing_to_do(connected, deliver):
    event = deliver("payment_intent.succeeded", {"id": "pi_2", "object": "payment_intent", "latest_charge": "ch_9"})
    assert event.status == Status.PROCESSED
    assert not Charge.objects.filter(account=connected).exists()


def test_checkout_session_completed_mirrors_what_it_carries_expanded(connected, deliver):
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "subscription",
        "customer": today("customer"),
        "subscription": today("subscription"),
    }
    deliver("checkout.session.completed", session)
    assert mirrored(Customer, connected, today("customer")["id"])
    subscription = mirrored(Subscription, connected, today("subscription")["id"])
    assert subscription.customer.stripe_id == today("customer")["id"]

    ids_only = deliver(
        "checkout.session.completed", {**session, "id": "cs_2", "customer": "cus_9", "subscription": "sub_9"}
    )
    assert ids_only.status == Status.PROCESSED
    assert not Customer.objects.filter(account=connected, stripe_id="cus_9").exists()


def test_an_upcoming_invoice_preview_has_no_id_and_nothing_to_mirror(connected, deliver):
    upcoming = {k: v for k, v in today("invoice").items() if k != "id"}
    assert deliver("invoice.upcoming", upcoming).status == Status.PROCESSED
    assert not Invoice.objects.filter(account=connected).exists()


def test_event_types_without_an_account_handler_are_ignored(connected, deliver):
    assert deliver("customer.source.created", {"id": "card_1", "object": "card"}).status == Status.IGNORED
    assert deliver("balance.available", {"object": "balance"}).status == Status.IGNORED


def test_a_platform_customer_event_never_reaches_the_mirror(connected, settings, django_capture_on_commit_callbacks):
    settings.STRIPE_WEBHOOK_SECRET = PLATFORM_SECRET
    event = make_event("customer.created", today("customer"))
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(PLATFORM_URL, event, PLATFORM_SECRET).status_code == 200

    assert WebhookEvent.objects.get().status == Status.IGNORED  # no platform handler for it (yet)
    assert not Customer.objects.exists()


def test_account_handlers_are_registered_on_the_account_relationship_only():
    account_types = {event_type for _, event_type in handlers.registered("account")}
    assert {"customer.created", "customer.subscription.*", "invoice.*", "charge.refunded", "payout.*"} <= account_types
    platform_handlers = set(handlers.registered("platform").values())
    assert not platform_handlers & set(handlers.registered("account").values())
