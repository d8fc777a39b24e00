"""The webhook benchmark's events: a realistic mix built around real objects of the local Stripe.

dj-stripe fetches from Stripe what an event's object refers to (a charge's customer, an invoice's subscription)
while it processes the event, so the objects must exist there: `seed()` creates a small business in the local
Stripe through its API (customers with cards, a catalogue, paid subscriptions, one-off payments, refunds,
payouts) and lists what it made; `generate()` wraps those objects in events of a realistic mix. Both systems get
the same bytes. Deterministic for a seed, apart from the ids the local Stripe picks.
"""

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.billing.stripe_seed import CARD, Stripe

# (event type, object kind, weight): a subscription business's webhook traffic, roughly.
MIX = [
    ("invoice.created", "invoice", 6),
    ("invoice.finalized", "invoice", 5),
    ("invoice.paid", "invoice", 6),
    ("invoice.payment_succeeded", "invoice", 6),
    ("invoice.updated", "invoice", 4),
    ("customer.subscription.updated", "subscription", 8),
    ("customer.subscription.created", "subscription", 3),
    ("charge.succeeded", "charge", 9),
    ("charge.refunded", "refunded_charge", 2),
    ("charge.refund.updated", "refund", 1),
    ("payment_intent.succeeded", "payment_intent", 8),
    ("payment_intent.created", "payment_intent", 4),
    ("customer.created", "customer", 5),
    ("customer.updated", "customer", 5),
    ("payment_method.attached", "payment_method", 4),
    ("product.updated", "product", 2),
    ("plan.updated", "plan", 1),
    ("price.updated", "price", 1),
    ("payout.paid", "payout", 2),
    ("balance.available", "balance", 3),  # no handler in either system: stored (ours: as ignored)
]


@dataclass(frozen=True)
class Delivery:
    account_index: int  # -1: the platform endpoint
    event: dict


# dj-stripe sends `Stripe-Account: <its owner account>` (the platform's own id, from /v1/account) with every
# call; the local Stripe treats any Stripe-Account as a connected account, so the business is created as that
# account, where dj-stripe will look for it.
LOCAL_STRIPE_PLATFORM_ACCOUNT = "acct_1LocalStripePlatform"


def seed(base_url: str, key: str, *, customers: int = 120, subscriptions: int = 60, payments: int = 30) -> dict:
    """Creates the business in the local Stripe; answers its objects by kind."""
    # The tests' plain-dict client on the local Stripe, with retries: seeding runs 8 calls at a time.
    api = Stripe(base_url, key, stripe_account=LOCAL_STRIPE_PLATFORM_ACCOUNT, retries=2)

    def customer_with_card(n):
        customer = api.post("/v1/customers", email=f"customer{n}@example.com", name=f"Customer {n}")
        method = api.post("/v1/payment_methods", type="card", card=CARD)
        api.post(f"/v1/payment_methods/{method['id']}/attach", customer=customer["id"])
        api.post(f"/v1/customers/{customer['id']}", invoice_settings={"default_payment_method": method["id"]})
        return customer["id"], method["id"]

    with ThreadPoolExecutor(8) as pool:
        pairs = list(pool.map(customer_with_card, range(customers)))
    plans = []
    for name, amount in (("Starter", 1900), ("Growth", 4900), ("Scale", 9900)):
        product = api.post("/v1/products", name=name, type="service")
        plans.append(api.post("/v1/plans", product=product["id"], amount=amount, currency="usd", interval="month"))
    addon = api.post("/v1/products", name="Add-on", type="service")
    api.post("/v1/prices", product=addon["id"], unit_amount=900, currency="usd", recurring={"interval": "year"})

    def subscribe(n):
        api.post("/v1/subscriptions", customer=pairs[n][0], items=[{"plan": plans[n % len(plans)]["id"]}])

    def pay(n):
        customer, method = pairs[-1 - n]
        intent = api.post(
            "/v1/payment_intents", amount=1000 + n, currency="usd", customer=customer, payment_method=method
        )
        api.post(f"/v1/payment_intents/{intent['id']}/confirm")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(subscribe, range(subscriptions)))
        list(pool.map(pay, range(payments)))
    charges = api.list_all("/v1/charges")
    for charge in charges[:10]:
        api.post("/v1/refunds", charge=charge["id"], amount=100)
    for n in range(5):
        api.post("/v1/payouts", amount=5000 + n, currency="eur", status="paid")

    objects = {
        "customer": api.list_all("/v1/customers"),
        "payment_method": [
            pm for c, _ in pairs[:40] for pm in api.list_all("/v1/payment_methods", customer=c, type="card")
        ],
        "product": api.list_all("/v1/products"),
        "plan": api.list_all("/v1/plans"),
        "price": api.list_all("/v1/prices"),
        "subscription": api.list_all("/v1/subscriptions"),
        "invoice": api.list_all("/v1/invoices"),
        "charge": api.list_all("/v1/charges"),
        "payment_intent": api.list_all("/v1/payment_intents"),
        "refund": api.list_all("/v1/refunds"),
        "payout": api.list_all("/v1/payouts"),
        "balance": [api.get("/v1/balance")],
    }
    objects["refunded_charge"] = [c for c in objects["charge"] if c.get("amount_refunded")]
    return {kind: found for kind, found in objects.items() if found}


def generate(objects: dict, *, accounts: int, total: int, duplicate_ratio: float, platform_ratio: float, seed=42):
    """`total` deliveries: distinct events plus re-deliveries of earlier ones (`duplicate_ratio` of the total);
    half of the re-deliveries follow their original at once (Stripe retrying while we answer), half come later.
    Answers (deliveries, distinct event count)."""
    rng = random.Random(seed)
    mix = [(event_type, kind, weight) for event_type, kind, weight in MIX if kind in objects]
    now = int(time.time())
    distinct = round(total / (1 + duplicate_ratio))
    deliveries: list[Delivery] = []
    for i in range(distinct):
        event_type, kind, _ = rng.choices(mix, [w for _, _, w in mix])[0]
        index = -1 if rng.random() < platform_ratio else rng.randrange(accounts)
        event = {
            "id": f"evt_bench{seed:02d}{i:08d}",
            "object": "event",
            "api_version": "2025-08-27.basil",
            # A little out of order, as Stripe's deliveries are: the ordering guard has work to do.
            "created": now - rng.randrange(0, 30),
            "data": {"object": rng.choice(objects[kind])},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": f"req_{rng.randrange(10**12)}", "idempotency_key": None},
            "type": event_type,
        }
        deliveries.append(Delivery(index, event))
    placed = [(float(i), d) for i, d in enumerate(deliveries)]
    for n in range(total - distinct):
        k = rng.randrange(distinct)
        placed.append((k + 0.5 if n % 2 == 0 else rng.uniform(k + 1, distinct), deliveries[k]))
    placed.sort(key=lambda pair: pair[0])
    return [d for _, d in placed], distinct
