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
