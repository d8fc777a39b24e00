"""The mirror in the admin: visible to staff, never editable (Stripe owns it)."""

import pytest
from django.test import Client

from billing.models import Charge, Customer, SyncRun
from billing.stripe import mirror
from tests.billing.stripe_objects import localstripe
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser():
    browser = Client()
    browser.force_login(UserFactory(is_staff=True, is_superuser=True))
    return browser


def test_mirror_rows_are_listed_and_shown_read_only(staff_browser, account):
    mirror.upsert_objects(account, "customer", [localstripe("customer")])
    mirror.upsert_objects(account, "charge", [localstripe("charge")])
    customer, charge = Customer.objects.get(), Charge.objects.get()

    listing = staff_browser.get("/admin/billing/customer/")
    assert listing.status_code == 200 and customer.stripe_id in listing.content.decode()
    page = staff_browser.get(f"/admin/billing/charge/{charge.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert charge.stripe_id in html and 'name="_save"' not in html  # a view, not a form

    assert staff_browser.get("/admin/billing/customer/add/").status_code == 403
    assert staff_browser.post(f"/admin/billing/customer/{customer.pk}/delete/", {"post": "yes"}).status_code == 403
    assert staff_browser.post(f"/admin/billing/customer/{customer.pk}/change/", {"email": "x@y.z"}).status_code == 403
    customer.refresh_from_db()
    assert customer.email == "a@b.c"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/billing/product/", "/admin/billing/price/", "/admin/billing/paymentmethod/",
        "/admin/billing/subscription/", "/admin/billing/subscriptionitem/", "/admin/billing/invoice/",
        "/admin/billing/refund/", "/admin/billing/dispute/", "/admin/billing/payout/",
        "/admin/billing/balancetransaction/", "/admin/billing/syncrun/",
    ],
)  # fmt: skip
def test_every_mirror_list_renders(staff_browser, url):
    assert staff_browser.get(url).status_code == 200


def test_sync_runs_show_their_resources(staff_browser, account):
    run = SyncRun.objects.create(account=account)
    run.resources.create(resource="customers", status="running", synced=100, pages=1)
    page = staff_browser.get(f"/admin/billing/syncrun/{run.pk}/change/")
    assert page.status_code == 200 and "customers" in page.content.decode()


def test_what_accounts_did_through_the_api_is_shown_read_only(staff_browser, account, user):
    from billing.models import CustomerNote, RefundRequest

    mirror.upsert_objects(account, "customer", [localstripe("customer")])
    customer = Customer.objects.get()
    refund = RefundRequest.objects.create(
        account=account,
        request_id="req-12345678",
        charge_stripe_id="ch_1",
        amount=500,
        reason="duplicate",
        requested_by=user,
        status="succeeded",
        refund_stripe_id="re_1",
    )
    note = CustomerNote.objects.create(account=account, customer=customer, author=user, body="Called, all good")

    listing = staff_browser.get("/admin/billing/refundrequest/")
    assert listing.status_code == 200 and b"req-12345678" in listing.content
    assert staff_browser.get(f"/admin/billing/refundrequest/{refund.pk}/change/").status_code == 200
    assert staff_browser.get("/admin/billing/customernote/").status_code == 200
    assert staff_browser.get("/admin/billing/paymentlink/").status_code == 200
    assert staff_browser.get("/admin/billing/customercontactlink/").status_code == 200
    assert staff_browser.get("/admin/billing/refundrequest/add/").status_code == 403
    assert staff_browser.post(f"/admin/billing/customernote/{note.pk}/delete/", {"post": "yes"}).status_code == 403
