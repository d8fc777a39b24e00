"""Seeds the local Stripe (the harness's fake) with an account's worth of objects, through Stripe's own API."""

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tests.harness.stripe_fixtures import TEST_SECRET_KEY, stripe_sdk_client

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


class Stripe:
    """Plain-dict calls on the fake, as one account (the platform, or a connected account)."""

    def __init__(
        self, base_url: str, key: str = TEST_SECRET_KEY, stripe_account: str | None = None, *, retries: int = 0
    ):
        self._sdk = stripe_sdk_client(base_url, key=key, stripe_account=stripe_account, max_network_retries=retries)

    def call(self, method: str, path: str, **params) -> dict:
        return json.loads(self._sdk.raw_request(method, path, **params).body)

    def post(self, path: str, **params) -> dict:
        return self.call("post", path, **params)

    def get(self, path: str, **params) -> dict:
        return self.call("get", path, **params)

    def delete(self, path: str) -> dict:
        return self.call("delete", path)

    def list_all(self, path: str, **params) -> list[dict]:
        objects, after = [], None
        while True:
            page = self.get(path, limit=100, **({"starting_after": after} if after else {}), **params)
            objects.extend(page["data"])
            if not page["has_more"] or not page["data"]:
                return objects
            after = page["data"][-1]["id"]


@dataclass
class Seeded:
    customers: list[dict] = field(default_factory=list)
    payment_methods: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    plans: list[dict] = field(default_factory=list)
    prices: list[dict] = field(default_factory=list)
    subscriptions: list[dict] = field(default_factory=list)
    payment_intents: list[dict] = field(default_factory=list)
    refunds: list[dict] = field(default_factory=list)
    payouts: list[dict] = field(default_factory=list)


def _customer_with_card(stripe: Stripe, n: int) -> tuple[dict, dict]:
    customer = stripe.post("/v1/customers", email=f"customer{n}@example.com", name=f"Customer {n}")
    method = stripe.post("/v1/payment_methods", type="card", card=CARD)
    stripe.post(f"/v1/payment_methods/{method['id']}/attach", customer=customer["id"])
    return customer, stripe.get(f"/v1/payment_methods/{method['id']}")


def seed_account(
    stripe: Stripe,
    *,
    customers: int = 250,
    subscriptions: int = 6,
    payments: int = 4,
    refunds: int = 2,
    payouts: int = 2,
    workers: int = 8,
) -> Seeded:
    """Customers with a card each, a catalogue of plans and prices, subscriptions (each pays an invoice, so a
    charge too), one-off payments, refunds and payouts."""
    seeded = Seeded()
    with ThreadPoolExecutor(workers) as pool:
        pairs = list(pool.map(lambda n: _customer_with_card(stripe, n), range(customers)))
    seeded.customers = [customer for customer, _ in pairs]
    seeded.payment_methods = [method for _, method in pairs]
    for name, amount in (("Starter", 1900), ("Growth", 4900)):
        product = stripe.post("/v1/products", name=name, type="service")
        seeded.products.append(product)
        seeded.plans.append(
            stripe.post("/v1/plans", product=product["id"], amount=amount, currency="usd", interval="month")
        )
    addon = stripe.post("/v1/products", name="Add-on", type="service")
    seeded.products.append(addon)
    seeded.prices.append(
        stripe.post("/v1/prices", product=addon["id"], unit_amount=900, currency="usd", recurring={"interval": "year"})
    )
    seeded.prices.append(stripe.post("/v1/prices", product=addon["id"], unit_amount=2500, currency="eur"))
    for n in range(subscriptions):
        customer = seeded.customers[n]
        stripe.post(
            f"/v1/customers/{customer['id']}",
            invoice_settings={"default_payment_method": seeded.payment_methods[n]["id"]},
        )
        seeded.subscriptions.append(
            stripe.post("/v1/subscriptions", customer=customer["id"], items=[{"plan": seeded.plans[n % 2]["id"]}])
        )
    for n in range(payments):
        customer, method = seeded.customers[-1 - n], seeded.payment_methods[-1 - n]
        intent = stripe.post(
            "/v1/payment_intents", amount=1000 + n, currency="usd", customer=customer["id"], payment_method=method["id"]
        )
        seeded.payment_intents.append(stripe.post(f"/v1/payment_intents/{intent['id']}/confirm"))
    charges = stripe.list_all("/v1/charges")
    for n in range(refunds):
        seeded.refunds.append(stripe.post("/v1/refunds", charge=charges[n]["id"], amount=100 + n))
    for n in range(payouts):
        seeded.payouts.append(stripe.post("/v1/payouts", amount=5000 + n, currency="eur", status="paid"))
    return seeded
