"""The staff's home in a real browser (issue 16 §7): a staff member logs into the admin, replays a dead letter and
refunds part of a charge; the test reads what the pages show and keeps screenshots as artifacts.

The admin is served by pytest-django's live server (static files included), the local Stripe by the harness;
Celery runs eagerly in the server's thread once each request commits, as a worker would after it."""

import pytest
from django.contrib.auth.models import Permission
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from billing.models import WebhookEvent
from tests.billing.api.test_refunds import mirrored, paid_charge
from tests.billing.stripe_seed import Stripe
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.harness.stripe_fixtures import TEST_SECRET_KEY
from tests.helpers.webhooks import connect, stored_event

pytestmark = pytest.mark.django_db(transaction=True)

CONNECTED = "acct_1BrowserConnected"


@pytest.fixture
def staff_member():
    user = UserFactory(username="finance", is_staff=True, password=PASSWORD)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["billing_admin_ops", "view_webhookevent", "delete_webhookevent", "view_charge"]
        )
    )
    return user


def log_in(browser, live_server, user):
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(user.username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # Wait for the next page itself: the login page's own <body> would match a lookup made before it is replaced.
    WebDriverWait(browser, 15).until(expected_conditions.title_contains("Site administration"))


def test_staff_replay_a_dead_letter_and_refund_part_of_a_charge(
    browser, screenshot, live_server, staff_member, account, stripe_api_base, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    connect(account, secret_key=TEST_SECRET_KEY, stripe_user_id=CONNECTED)
    theirs = Stripe(stripe_api_base, stripe_account=CONNECTED)
    customer = theirs.post("/v1/customers", email="browser@example.com")
    (fresh,) = theirs.list_all("/v1/events", type="customer.created")
    dead = stored_event(
        account,
        fresh["id"],
        event_type="customer.created",
        obj={"id": customer["id"], "object": "customer"},
        status=WebhookEvent.Status.DEAD,
        attempts=5,
        last_error="RuntimeError: the handler failed",
    )
    charge = mirrored(paid_charge(theirs, account, 2500))

    log_in(browser, live_server, staff_member)

    # Replay the dead letter from the events list, filtered to dead letters.
    browser.get(f"{live_server.url}/admin/billing/webhookevent/?status__exact=dead")
    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{dead.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("replay_events")
    browser.find_element(By.NAME, "index").click()
    assert "1 replay(s) queued" in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    browser.get(f"{live_server.url}/admin/billing/webhookevent/{dead.pk}/change/")
    page = browser.find_element(By.ID, "content").text
    assert "processed" in page and fresh["id"] in page
    screenshot("replayed")

    # Refund part of the charge from its page.
    browser.get(f"{live_server.url}/admin/billing/charge/{charge.pk}/change/")
    browser.find_element(By.CSS_SELECTOR, f'.object-tools a[href$="/charge/{charge.pk}/refund/"]').click()
    assert browser.find_element(By.ID, "left").text == "2500"
    browser.find_element(By.NAME, "amount").send_keys("700")
    Select(browser.find_element(By.NAME, "reason")).select_by_value("requested_by_customer")
    browser.find_element(By.NAME, "note").send_keys("Browser test: one seat unused")
    screenshot("refund-form")
    browser.find_element(By.NAME, "_refund").click()
    message = browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    assert f"Refunded 700 USD of {charge.stripe_id} (700 of 2500 refunded in all)" in message
    screenshot("refunded")

    dead.refresh_from_db()
    charge.refresh_from_db()
    assert dead.status == WebhookEvent.Status.PROCESSED and charge.amount_refunded == 700
    assert sum(r["amount"] for r in theirs.list_all("/v1/refunds", charge=charge.stripe_id)) == 700
