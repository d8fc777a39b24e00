"""The development stack (`scripts/dev`, for real): the demo account subscribes to `pro` from its hosted checkout
page, and the local Stripe's platform webhooks put it on the plan (the seed made pro's prices in the local Stripe's
platform account and registered the platform endpoint there)."""

import re

import requests

from localdev.demo_data import DEMO_PASSWORD, DEMO_USERNAME
from tests.e2e.test_dev_stack import stack  # noqa: F401  (the fixture: the stack on embedded defaults)
from tests.helpers.polling import wait_until


def test_the_demo_account_subscribes_to_pro_from_the_hosted_checkout_page(stack):  # noqa: F811
    _, base, log_path = stack
    assert re.search(r"plans: free and pro v\d+", log_path.read_text())
    token = requests.post(
        f"{base}/api/v1/auth/token/", json={"username": DEMO_USERNAME, "password": DEMO_PASSWORD}, timeout=10
    ).json()["access"]
    headers = {"Authorization": f"Bearer {token}"}

    checkout = requests.post(f"{base}/api/v1/account/subscription/checkout/", json={"plan": "pro"}, headers=headers)
    assert checkout.status_code == 201, checkout.text
    page_url = checkout.json()["url"]
    page = requests.get(page_url, timeout=10)
    assert page.status_code == 200 and 'id="pay"' in page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1)
    paid = requests.post(requests.compat.urljoin(page_url, action), timeout=10, allow_redirects=False)
    # Back to the SPA's page (PLANS_CHECKOUT_SUCCESS_URL), with Stripe's session id filled in.
    assert paid.status_code == 303 and paid.headers["Location"].endswith(checkout.json()["session_id"])

    def on_pro():
        body = requests.get(f"{base}/api/v1/account/subscription/", headers=headers, timeout=10).json()
        return body if body["plan"]["slug"] == "pro" and body["status"] == "active" else None

    subscribed = wait_until(on_pro, timeout=60, interval=0.5, message="the demo account on pro")
    assert subscribed["current_period_end"] is not None
