"""The weekly reconciliation (issue 16) against the local Stripe: a status difference and a plan difference planted
in Stripe (no webhook delivered) are found and stored as divergences, nothing of ours changes; staff's force sync
from the admin (a queued task) then clears them. The divergences and platform refunds export as CSV."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from plans.models import AccountSubscription, Divergence, PlatformRefund
from plans.services.reconciliation import reconciliation_run
from plans.tasks import run_reconciliation
from tests.factories import UserFactory
from tests.plans.test_staff_toolkit import plant_team_price, platform, subscribed  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def staff_admin() -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="billing_admin_ops"),
        Permission.objects.get(codename="view_divergence"),
        Permission.objects.get(codename="view_platformrefund"),
    )
    client = Client()
    client.force_login(user)
    return client


def test_reconciliation_finds_planted_differences_changes_nothing_and_force_sync_clears_them(
    subscribed,  # noqa: F811
    platform,  # noqa: F811
    stripe_server,
    django_capture_on_commit_callbacks,
):
    # Planted in Stripe: the subscription moves to team, and its renewal is declined (past_due).
    stripe_server.renew_subscription(subscribed.stripe_subscription_id, fail=True)
    plant_team_price(platform, subscribed)
    live = platform.get(f"/v1/subscriptions/{subscribed.stripe_subscription_id}")
    assert live["status"] == "past_due"
    before = AccountSubscription.objects.get(pk=subscribed.pk)

    assert run_reconciliation() == {"compared": 1, "divergences": 1}

    divergence = Divergence.objects.get()
    assert (divergence.kind, divergence.status, divergence.subscription_id) == ("subscription", "open", subscribed.pk)
    assert set(divergence.fields) == {"status", "plan"}
    assert (divergence.ours["plan"], divergence.theirs["plan"]) == ("pro", "team")
    assert (divergence.ours["status"], divergence.theirs["status"]) == ("active", "past_due")
    after = AccountSubscription.objects.select_related("plan").get(pk=subscribed.pk)
    assert (after.plan.slug, after.status, after.updated_at) == ("pro", "active", before.updated_at)

    # Run again: the same open divergence, not a second one.
    reconciliation_run()
    assert Divergence.objects.count() == 1

    admin = staff_admin()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/admin/plans/divergence/",
            {"action": "force_sync", "_selected_action": [divergence.pk]},
            follow=True,
        )
    assert response.status_code == 200 and b"1 force sync(s) queued" in response.content

    synced = AccountSubscription.objects.select_related("plan").get(pk=subscribed.pk)
    assert (synced.plan.slug, synced.status) == ("team", "past_due")
    divergence.refresh_from_db()
    assert divergence.status == "resolved" and divergence.resolved_at is not None
    assert reconciliation_run() == {"compared": 1, "divergences": 0}


def test_divergences_and_refunds_export_as_csv_with_formula_cells_neutralised(account, user):
    Divergence.objects.create(kind="dunning", account=account, fields=["status"], note="=HYPERLINK(1)")
    PlatformRefund.objects.create(
        request_id="refund-0001",
        charge_id="ch_1",
        amount=100,
        reason="duplicate",
        requested_by=user,
        status="succeeded",
    )
    admin = staff_admin()

    divergences = admin.post(
        "/admin/plans/divergence/",
        {"action": "export_csv", "_selected_action": list(Divergence.objects.values_list("pk", flat=True))},
    )
    body = b"".join(divergences.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0]["note"] == "'=HYPERLINK(1)" and rows[0]["kind"] == "dunning"

    refunds = admin.post(
        "/admin/plans/platformrefund/",
        {"action": "export_csv", "_selected_action": list(PlatformRefund.objects.values_list("pk", flat=True))},
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(refunds.streaming_content).decode("utf-8").lstrip("\ufeff"))))
    assert (rows[0]["request_id"], rows[0]["requested_by"], rows[0]["amount"]) == ("refund-0001", user.username, "100")
    assert admin.get("/admin/plans/platformrefund/").status_code == 200
