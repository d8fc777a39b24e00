"""The mirror's charges in the admin (issue 16 §5): a refund form for staff with billing_admin_ops, through the
same service and rules as the account's refund API; and the mirror's re-sync action."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from billing.models import RefundRequest, SyncRun
from tests.billing.api.test_refunds import mirrored, paid_charge
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def staff(*, ops: bool) -> Client:
    user = UserFactory(is_staff=True)
    perms = ["view_charge", "view_customer"] + (["billing_admin_ops"] if ops else [])
    user.user_permissions.add(*Permission.objects.filter(codename__in=perms))
    browser = Client()
    browser.force_login(user)
    return browser


def refund_page(browser, charge) -> tuple[str, str]:
    page = browser.get(f"/admin/billing/charge/{charge.pk}/refund/").content.decode()
    request_id = re.search(r'name="refund_request_id" value="([^"]+)"', page).group(1)
    return page, request_id


def test_staff_refund_part_of_a_charge_once_however_often_the_form_is_sent(live, stripe):
    charge = mirrored(paid_charge(stripe, live, 1000))
    browser = staff(ops=True)
    assert "Refund…" in browser.get(f"/admin/billing/charge/{charge.pk}/change/").content.decode()
    page, request_id = refund_page(browser, charge)
    assert 'id="left">1000<' in page

    form = {"amount": "300", "reason": "requested_by_customer", "note": "Ticket 7", "refund_request_id": request_id}
    first = browser.post(f"/admin/billing/charge/{charge.pk}/refund/", form, follow=True).content.decode()
    again = browser.post(f"/admin/billing/charge/{charge.pk}/refund/", form, follow=True).content.decode()

    assert "Refunded 300 USD" in first and "Refunded 300 USD" in again
    charge.refresh_from_db()
    assert charge.amount_refunded == 300
    (row,) = RefundRequest.objects.all()
    assert (row.note, row.requested_by.is_staff, row.status) == ("Ticket 7", True, "succeeded")
    assert len(stripe.list_all("/v1/refunds", charge=charge.stripe_id)) == 1


def test_the_forms_errors_are_the_apis(live, stripe):
    charge = mirrored(paid_charge(stripe, live, 1000))
    browser = staff(ops=True)
    _, request_id = refund_page(browser, charge)

    too_much = browser.post(
        f"/admin/billing/charge/{charge.pk}/refund/",
        {"amount": "5000", "reason": "duplicate", "refund_request_id": request_id},
    ).content.decode()

    assert "refund_exceeds_remaining" in too_much
    charge.refresh_from_db()
    assert charge.amount_refunded == 0


def test_staff_without_the_permission_cannot_refund(live, stripe):
    charge = mirrored(paid_charge(stripe, live, 1000))
    browser = staff(ops=False)
    assert "Refund…" not in browser.get(f"/admin/billing/charge/{charge.pk}/change/").content.decode()
    response = browser.post(
        f"/admin/billing/charge/{charge.pk}/refund/",
        {"amount": "100", "reason": "duplicate", "refund_request_id": "admin-123456789"},
    )
    assert response.status_code == 302 and not RefundRequest.objects.exists()


def test_the_mirror_offers_a_resync_of_the_selected_rows_accounts(live, stripe, django_capture_on_commit_callbacks):
    charge = mirrored(paid_charge(stripe, live, 1000))
    browser = staff(ops=True)
    with django_capture_on_commit_callbacks(execute=False):
        page = browser.post(
            "/admin/billing/charge/", {"action": "resync_accounts", "_selected_action": [charge.pk]}, follow=True
        ).content.decode()
    run = SyncRun.objects.get(account=live)
    assert f"sync run {run.pk} started" in page
