"""The staff toolkit's webhook operations (issue 16): dead letters listed and purged, events replayed from
Stripe, for staff with billing_admin_ops only."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from billing.models import WebhookEvent
from tests.billing.stripe_seed import Stripe
from tests.conftest import PASSWORD, token_for
from tests.factories import MembershipFactory, UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.webhooks import connect, stored_event

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status
DEAD_LETTERS = "/api/v1/admin/billing/dead-letters/"
REPLAY = "/api/v1/admin/billing/webhook/replay/"


def staff_user(*, ops: bool = True):
    user = UserFactory(is_staff=True, password=PASSWORD)
    if ops:
        user.user_permissions.add(Permission.objects.get(codename="billing_admin_ops"))
    return user


@pytest.fixture
def staff_api():
    """A staff member signed in to the admin: the session authenticates the toolkit too."""
    client = APIClient()
    client.force_login(staff_user())
    return client


def platform_event(event_id: str, *, status=Status.DEAD, **fields) -> WebhookEvent:
    return stored_event(
        None,
        event_id,
        event_type="customer.updated",
        obj={"id": "cus_1"},
        status=status,
        relationship="platform",
        **fields,
    )


def test_anonymous_is_401_and_anyone_without_the_permission_403(account):
    assert APIClient().get(DEAD_LETTERS).status_code == 401
    member = UserFactory(password=PASSWORD)
    MembershipFactory(user=member, account=account, role="owner")
    as_member = APIClient()
    as_member.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(member, account)}")
    assert as_member.get(DEAD_LETTERS).status_code == 403
    assert as_member.post(REPLAY, {"event_id": "evt_1"}, format="json").status_code == 403
    without = APIClient()
    without.force_login(staff_user(ops=False))
    assert without.delete(f"{DEAD_LETTERS}evt_1/").status_code == 403


def test_a_staff_token_works_as_well_as_the_admin_session(account):
    user = staff_user()
    MembershipFactory(user=user, account=account, role="member")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, account)}")
    assert client.get(DEAD_LETTERS).status_code == 200


def test_dead_letters_are_paginated_newest_first(account, staff_api):
    for n in range(5):
        platform_event(f"evt_dead_{n}")
    platform_event("evt_alive", status=Status.PROCESSED)
    stored_event(account, "evt_account_dead", event_type="customer.updated", status=Status.DEAD)

    first = staff_api.get(DEAD_LETTERS, {"limit": 2}).json()
    assert (first["total"], first["page"], first["limit"]) == (6, 1, 2)
    assert [item["event_id"] for item in first["items"]] == ["evt_account_dead", "evt_dead_4"]
    third = staff_api.get(DEAD_LETTERS, {"limit": 2, "page": 3}).json()
    assert [item["event_id"] for item in third["items"]] == ["evt_dead_1", "evt_dead_0"]
    narrowed = staff_api.get(DEAD_LETTERS, {"relationship": "account", "account_id": str(account.pk)}).json()
    assert [item["event_id"] for item in narrowed["items"]] == ["evt_account_dead"] and narrowed["limit"] == 20


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"page": 0}, {"page": "x"}, {"relationship": "x"}])
def test_a_bad_page_or_limit_is_a_400_naming_it(staff_api, query):
    response = staff_api.get(DEAD_LETTERS, query)
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["fields"]) == set(query)


def test_only_a_dead_letter_is_purged(account, staff_api):
    platform_event("evt_dead")
    platform_event("evt_alive", status=Status.FAILED)
    stored_event(account, "evt_account_dead", event_type="customer.updated", status=Status.DEAD)

    assert staff_api.delete(f"{DEAD_LETTERS}evt_dead/").status_code == 204
    assert staff_api.delete(f"{DEAD_LETTERS}evt_dead/").status_code == 404
    response = staff_api.delete(f"{DEAD_LETTERS}evt_alive/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "dead_letter_not_found"
    # An account's dead letter is named with its account.
    assert staff_api.delete(f"{DEAD_LETTERS}evt_account_dead/").status_code == 404
    assert staff_api.delete(f"{DEAD_LETTERS}evt_account_dead/?account_id={account.pk}").status_code == 204
    assert set(WebhookEvent.objects.values_list("stripe_event_id", flat=True)) == {"evt_alive"}


@pytest.fixture
def platform_stripe(stripe_api_base, settings):
    settings.STRIPE_SECRET_KEY = TEST_SECRET_KEY
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return Stripe(stripe_api_base)


def test_replay_fetches_the_event_from_stripe_and_processes_it_again(
    staff_api, platform_stripe, django_capture_on_commit_callbacks
):
    platform_stripe.post("/v1/customers", email="ours@example.com")
    (event,) = platform_stripe.list_all("/v1/events", type="customer.created")
    platform_event(event["id"], attempts=5, last_error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(REPLAY, {"event_id": event["id"]}, format="json")

    assert response.status_code == 202, response.content
    row = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert row.status in (Status.PROCESSED, Status.IGNORED) and row.last_error == ""
    assert row.payload["data"]["object"]["email"] == "ours@example.com"  # Stripe's copy, not the stored one


def test_replay_of_an_event_we_never_received_stores_it(staff_api, platform_stripe):
    platform_stripe.post("/v1/customers", email="never@example.com")
    (event,) = platform_stripe.list_all("/v1/events", type="customer.created")
    response = staff_api.post(REPLAY, {"event_id": event["id"]}, format="json")
    assert response.status_code == 202 and response.json()["relationship"] == "platform"
    assert WebhookEvent.objects.filter(stripe_event_id=event["id"], relationship="platform").count() == 1


def test_replay_of_an_accounts_own_event(account, staff_api, stripe_api_base, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    connect(account, secret_key=TEST_SECRET_KEY, stripe_user_id="acct_1StaffReplay")
    theirs = Stripe(stripe_api_base, stripe_account="acct_1StaffReplay")
    theirs.post("/v1/customers", email="theirs@example.com")
    (event,) = theirs.list_all("/v1/events", type="customer.created")

    response = staff_api.post(REPLAY, {"event_id": event["id"], "account_id": str(account.pk)}, format="json")

    assert response.status_code == 202
    assert WebhookEvent.objects.get(stripe_event_id=event["id"]).account_id == account.pk


def test_replay_errors(staff_api, platform_stripe, stripe_server):
    unknown = staff_api.post(REPLAY, {"event_id": "evt_does_not_exist"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "stripe_event_not_found"
    assert staff_api.post(REPLAY, {"event_id": "not-an-event"}, format="json").status_code == 400
    assert staff_api.post(REPLAY, {"event_id": "evt_1", "extra": 1}, format="json").status_code == 400
    no_account = staff_api.post(
        REPLAY, {"event_id": "evt_1", "account_id": "00000000-0000-0000-0000-000000000000"}, format="json"
    )
    assert no_account.status_code == 404

    platform_event("evt_dead_kept", attempts=5, last_error="boom")
    stripe_server.fail_next("/v1/events", status=500)
    failing = staff_api.post(REPLAY, {"event_id": "evt_dead_kept"}, format="json")
    assert failing.status_code == 502
    row = WebhookEvent.objects.get(stripe_event_id="evt_dead_kept")
    assert (row.status, row.attempts, row.last_error) == (Status.DEAD, 5, "boom")  # nothing changed
