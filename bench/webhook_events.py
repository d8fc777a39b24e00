"""A realistic mix of Stripe events for the webhook benchmark, in today's API shape (see
shared/stripe-fixtures for Stripe's own examples). Deterministic for a seed; no Django, no network.

Each account has a pool of customers, products and prices, subscriptions, invoices and charges; events pick from
the pools, so the same objects are updated again and again (as in life: an invoice is created, finalized, paid).
"""

import random
import time
from dataclasses import dataclass

# (event type, weight): a subscription business's webhook traffic, roughly.
MIX = [
    ("invoice.created", 6),
    ("invoice.finalized", 5),
    ("invoice.paid", 6),
    ("invoice.payment_succeeded", 6),
    ("invoice.updated", 4),
    ("customer.subscription.updated", 8),
    ("customer.subscription.created", 3),
    ("charge.succeeded", 9),
    ("charge.refunded", 2),
    ("charge.dispute.created", 1),
    ("payment_intent.succeeded", 8),
    ("payment_intent.created", 4),
    ("customer.created", 5),
    ("customer.updated", 5),
    ("payment_method.attached", 4),
    ("product.updated", 2),
    ("price.updated", 2),
    ("payout.paid", 2),
    ("checkout.session.completed", 3),
    ("balance.available", 3),  # no handler: stored as ignored
    ("invoiceitem.created", 3),  # no handler: stored as ignored
]
POOL = 400  # objects of each kind per account


@dataclass(frozen=True)
class Delivery:
    account_index: int  # -1: the platform endpoint
    event: dict


def _meta(rng):
    return {"order_ref": f"ord_{rng.randrange(10**8)}"} if rng.random() < 0.3 else {}


class Pools:
    def __init__(self, prefix: str):
        self.prefix = prefix

    def id(self, kind: str, n: int) -> str:
        return f"{kind}_{self.prefix}{n:05d}"


def customer(p: Pools, rng, n, now):
    return {
        "id": p.id("cus", n),
        "object": "customer",
        "address": {"city": "Lyon", "country": "FR", "line1": f"{n} rue de la Paix", "postal_code": "69001"},
        "balance": 0,
        "created": now - 86400 * (n % 300),
        "currency": "usd",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": f"customer{n}@{p.prefix.lower()}.example.com",
        "invoice_prefix": f"{p.prefix[:4].upper()}{n:04d}",
        "invoice_settings": {"custom_fields": None, "default_payment_method": p.id("pm", n), "footer": None},
        "livemode": False,
        "metadata": _meta(rng),
        "name": f"Customer {n}",
        "phone": None,
        "preferred_locales": ["en"],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product(p, rng, n, now):
    return {
        "id": p.id("prod", n % 20),
        "object": "product",
        "active": True,
        "created": now - 86400 * 200,
        "default_price": p.id("price", n % 20),
        "description": "Monthly plan",
        "images": [],
        "livemode": False,
        "metadata": {},
        "name": f"Plan {n % 20}",
        "type": "service",
        "updated": now,
        "url": None,
    }


def price(p, rng, n, now):
    return {
        "id": p.id("price", n % 20),
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": now - 86400 * 200,
        "currency": "usd",
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": p.id("prod", n % 20),
        "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
        "tax_behavior": "unspecified",
        "type": "recurring",
        "unit_amount": 1000 + 500 * (n % 20),
    }


def subscription(p, rng, n, now):
    start = now - 86400 * (n % 28)
    return {
        "id": p.id("sub", n),
        "object": "subscription",
        "billing_cycle_anchor": start,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "collection_method": "charge_automatically",
        "created": start,
        "currency": "usd",
        "customer": p.id("cus", n),
        "default_payment_method": p.id("pm", n),
        "ended_at": None,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": p.id("si", n),
                    "object": "subscription_item",
                    "created": start,
                    "current_period_end": start + 30 * 86400,
                    "current_period_start": start,
                    "price": price(p, rng, n, now),
                    "quantity": 1,
                    "subscription": p.id("sub", n),
                }
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={p.id('sub', n)}",
        },
        "latest_invoice": p.id("in", n),
        "livemode": False,
        "metadata": _meta(rng),
        "start_date": start,
        "status": rng.choice(["active"] * 8 + ["past_due", "trialing"]),
        "trial_end": None,
        "trial_start": None,
    }


def invoice(p, rng, n, now, status):
    amount = 1000 + 500 * (n % 20)
    return {
        "id": p.id("in", n),
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else amount,
        "attempt_count": 1,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": now - 3600,
        "currency": "usd",
        "customer": p.id("cus", n),
        "customer_email": f"customer{n}@{p.prefix.lower()}.example.com",
        "due_date": None,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{p.id('in', n)}",
        "livemode": False,
        "metadata": {},
        "number": f"{p.prefix[:4].upper()}-{n:04d}",
        "parent": {"subscription_details": {"subscription": p.id("sub", n)}, "type": "subscription_details"},
        "period_end": now,
        "period_start": now - 30 * 86400,
        "status": status,
        "subtotal": amount,
        "total": amount,
    }


def charge(p, rng, n, now, refunded=False):
    amount = 1000 + 500 * (n % 20)
    refunds = (
        [
            {
                "id": p.id("re", n),
                "object": "refund",
                "amount": amount,
                "charge": p.id("ch", n),
                "created": now,
                "currency": "usd",
                "reason": "requested_by_customer",
                "status": "succeeded",
            }
        ]
        if refunded
        else []
    )
    return {
        "id": p.id("ch", n),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount if refunded else 0,
        "balance_transaction": p.id("txn", n),
        "billing_details": {"address": {"country": "FR"}, "email": None, "name": f"Customer {n}"},
        "captured": True,
        "created": now - 60,
        "currency": "usd",
        "customer": p.id("cus", n),
        "description": "Subscription update",
        "disputed": False,
        "livemode": False,
        "metadata": {},
        "outcome": {"network_status": "approved_by_network", "risk_level": "normal", "type": "authorized"},
        "paid": True,
        "payment_intent": p.id("pi", n),
        "payment_method": p.id("pm", n),
        "payment_method_details": {"card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}},
        "receipt_url": f"https://pay.stripe.com/receipts/{p.id('ch', n)}",
        "refunded": refunded,
        "refunds": {"object": "list", "data": refunds, "has_more": False},
        "status": "succeeded",
    }


def dispute(p, rng, n, now):
    return {
        "id": p.id("dp", n),
        "object": "dispute",
        "amount": 1000 + 500 * (n % 20),
        "charge": p.id("ch", n),
        "created": now,
        "currency": "usd",
        "livemode": False,
        "metadata": {},
        "payment_intent": p.id("pi", n),
        "reason": "fraudulent",
        "status": "needs_response",
    }


def payment_intent(p, rng, n, now, status):
    return {
        "id": p.id("pi", n),
        "object": "payment_intent",
        "amount": 1000 + 500 * (n % 20),
        "amount_received": 1000 + 500 * (n % 20) if status == "succeeded" else 0,
        "capture_method": "automatic",
        "created": now - 120,
        "currency": "usd",
        "customer": p.id("cus", n),
        "latest_charge": p.id("ch", n) if status == "succeeded" else None,
        "livemode": False,
        "metadata": {},
        "payment_method": p.id("pm", n),
        "payment_method_types": ["card"],
        "status": status,
    }


def payment_method(p, rng, n, now):
    return {
        "id": p.id("pm", n),
        "object": "payment_method",
        "billing_details": {"address": {"country": "FR"}, "email": None, "name": f"Customer {n}"},
        "card": {
            "brand": "visa",
            "country": "US",
            "exp_month": 12,
            "exp_year": 2030,
            "funding": "credit",
            "last4": "4242",
        },
        "created": now - 86400,
        "customer": p.id("cus", n),
        "livemode": False,
        "metadata": {},
        "type": "card",
    }


def payout(p, rng, n, now):
    return {
        "id": p.id("po", n % 50),
        "object": "payout",
        "amount": 250_000,
        "arrival_date": now,
        "automatic": True,
        "balance_transaction": p.id("txn", 90000 + n % 50),
        "created": now - 86400 * 2,
        "currency": "usd",
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "status": "paid",
        "type": "bank_account",
    }


def checkout_session(p, rng, n, now):
    return {
        "id": p.id("cs", n),
        "object": "checkout.session",
        "amount_subtotal": 1000 + 500 * (n % 20),
        "amount_total": 1000 + 500 * (n % 20),
        "created": now - 300,
        "currency": "usd",
        "customer": p.id("cus", n),
        "customer_details": {"email": f"customer{n}@{p.prefix.lower()}.example.com", "name": f"Customer {n}"},
        "livemode": False,
        "metadata": {},
        "mode": "subscription",
        "payment_status": "paid",
        "status": "complete",
        "subscription": p.id("sub", n),
        "url": None,
    }


def balance(p, rng, n, now):
    return {"object": "balance", "available": [{"amount": 100_000, "currency": "usd"}], "livemode": False}


def invoiceitem(p, rng, n, now):
    return {
        "id": p.id("ii", n),
        "object": "invoiceitem",
        "amount": 500,
        "currency": "usd",
        "customer": p.id("cus", n),
        "date": now,
        "livemode": False,
    }


def object_for(event_type: str, p: Pools, rng, n: int, now: int) -> dict:
    family = event_type.rsplit(".", 1)[0]
    if event_type == "charge.refunded":
        return charge(p, rng, n, now, refunded=True)
    if event_type.startswith("invoice."):
        status = "paid" if event_type in ("invoice.paid", "invoice.payment_succeeded") else "open"
        return invoice(p, rng, n, now, "draft" if event_type == "invoice.created" else status)
    if event_type.startswith("payment_intent."):
        return payment_intent(p, rng, n, now, event_type.split(".")[1].replace("created", "requires_payment_method"))
    builders = {
        "customer": customer,
        "customer.subscription": subscription,
        "charge": charge,
        "charge.dispute": dispute,
        "payment_method": payment_method,
        "product": product,
        "price": price,
        "payout": payout,
        "checkout.session": checkout_session,
        "balance": balance,
        "invoiceitem": invoiceitem,
    }
    return builders[family](p, rng, n, now)


def generate(*, accounts: int, total: int, duplicate_ratio: float, platform_ratio: float, seed: int = 42):
    """`total` deliveries: distinct events plus re-deliveries of earlier ones (`duplicate_ratio` of the total).
    Half the duplicates follow their original at once (Stripe retrying while we are still answering), half come
    later. Answers (deliveries, distinct event count)."""
    rng = random.Random(seed)
    types, weights = zip(*MIX, strict=True)
    now = int(time.time())
    pools = [Pools(f"A{i:03d}x") for i in range(accounts)] + [Pools("PLATx")]
    distinct = round(total / (1 + duplicate_ratio))
    deliveries: list[Delivery] = []
    for i in range(distinct):
        on_platform = rng.random() < platform_ratio
        index = -1 if on_platform else rng.randrange(accounts)
        event_type = rng.choices(types, weights)[0]
        obj = object_for(event_type, pools[index], rng, rng.randrange(POOL), now)
        event = {
            "id": f"evt_bench{seed:02d}{i:08d}",
            "object": "event",
            "api_version": "2025-08-27.basil",
            # Created a little out of order, as Stripe's deliveries are: the ordering guard has work to do.
            "created": now - rng.randrange(0, 30),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": f"req_{rng.randrange(10**12)}", "idempotency_key": None},
            "type": event_type,
        }
        deliveries.append(Delivery(index, event))
    # Duplicates take a place in the sequence: right after their original, or somewhere later.
    placed = [(float(i), d) for i, d in enumerate(deliveries)]
    for n in range(total - distinct):
        k = rng.randrange(distinct)
        later = k + 0.5 if n % 2 == 0 else rng.uniform(k + 1, distinct)
        placed.append((later, deliveries[k]))
    placed.sort(key=lambda pair: pair[0])
    return [d for _, d in placed], distinct
