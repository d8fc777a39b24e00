"""Webhook events in the admin: read-only evidence, filterable, with replay and purge-dead-letters actions for
staff holding billing_admin_ops."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from billing.models import WebhookEvent
from billing.stripe.client import StripeClient
from tests.factories import UserFactory
from tests.helpers.handlers import RecordingHandler, registered
from tests.helpers.webhooks import connect, stored_event

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status
TYPE = "zz_test.admin.updated"
CHANGELIST = "/admin/billing/webhookevent/"


def staff(*, ops: bool) -> Client:
    user = UserFactory(is_staff=True)
    perms = ["view_webhookevent"] + (["billing_admin_ops"] if ops else [])
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    browser = Client()
    browser.force_login(user)
    return browser


def event(account, event_id: str, status: str) -> WebhookEvent:
    return stored_event(
        account,
        event_id,
        event_type=TYPE,
        obj={"id": "obj_1"},
        status=status,
        attempts=5 if status == Status.DEAD else 1,
    )


def test_events_are_listed_filtered_and_shown_read_only(account):
    dead = event(account, "evt_dead", Status.DEAD)
    event(account, "evt_done", Status.PROCESSED)
    browser = staff(ops=False)

    filtered = browser.get(CHANGELIST, {"status__exact": "dead"}).content.decode()
    assert "evt_dead" in filtered and "evt_done" not in filtered
    assert browser.get(CHANGELIST, {"relationship__exact": "platform"}).status_code == 200

    page = browser.get(f"{CHANGELIST}{dead.pk}/change/").content.decode()
    assert "evt_dead" in page and "obj_1" in page and 'name="_save"' not in page
    assert browser.post(f"{CHANGELIST}{dead.pk}/change/", {"status": "pending"}).status_code == 403


def test_the_actions_need_billing_admin_ops(account):
    event(account, "evt_dead", Status.DEAD)
    without = staff(ops=False).get(CHANGELIST).content.decode()
    with_ops = staff(ops=True).get(CHANGELIST).content.decode()
    assert "purge_dead_letters" not in without and "replay_events" not in without
    assert "purge_dead_letters" in with_ops and "replay_events" in with_ops
    assert "delete_selected" not in with_ops  # only dead letters may go, through the purge


def test_purge_deletes_the_selected_dead_letters_only(account):
    dead, done = event(account, "evt_dead", Status.DEAD), event(account, "evt_done", Status.PROCESSED)
    response = staff(ops=True).post(
        CHANGELIST, {"action": "purge_dead_letters", "_selected_action": [dead.pk, done.pk]}, follow=True
    )
    assert response.status_code == 200
    assert list(WebhookEvent.objects.values_list("stripe_event_id", flat=True)) == ["evt_done"]


def test_replay_fetches_again_and_processes(account, monkeypatch, django_capture_on_commit_callbacks):
    connect(account)
    dead = event(account, "evt_dead", Status.DEAD)
    monkeypatch.setattr(StripeClient, "retrieve_event", lambda client, event_id: dead.payload)

    with registered("account", TYPE, RecordingHandler()) as handler:
        with django_capture_on_commit_callbacks(execute=True):
            response = staff(ops=True).post(
                CHANGELIST, {"action": "replay_events", "_selected_action": [dead.pk]}, follow=True
            )

    assert response.status_code == 200 and "queued for processing again" in response.content.decode()
    dead.refresh_from_db()
    assert handler.calls == ["evt_dead"] and dead.status == Status.PROCESSED
