"""The demo's money in the local Stripe: payments over the last DAYS days in two currencies, refunds, disputes,
payouts with their balance transactions, and payment links (invoices with hosted pages), so the overview, payouts
and disputes screens have something to show. Deterministic (a fixed random seed); backdated through the local
Stripe's control plane (`/_test/backdate`, `/_test/disputes`, `/_test/payouts`), which only the local Stripe has."""

import random
import time

import requests
from django.conf import settings

from localdev.demo_data import (
    DAYS,
    DEMO_STRIPE_ACCOUNT,
    DISPUTES,
    PAYMENT_AMOUNTS,
    PAYMENT_LINKS,
    PAYMENTS_PER_DAY,
    PAYOUT_EVERY_DAYS,
    REFUND_ONE_IN,
    SEED,
)

DAY = 24 * 3600


def _control(path: str, payload: dict) -> dict | None:
    """A control route of the local Stripe; None when it refuses (400), e.g. a payout with nothing to pay out."""
    # As the demo account (its objects are a connected account's): the control routes act as the caller.
    headers = {"Stripe-Account": DEMO_STRIPE_ACCOUNT}
    response = requests.post(f"{settings.STRIPE_API_BASE}/_test/{path}", json=payload, headers=headers, timeout=30)
    if response.status_code == 400:
        return None
    response.raise_for_status()
    return response.json()


def _id(value) -> str:
    return value["id"] if isinstance(value, dict) else value


def seed_payments(stripe, customers: list[dict], currencies: dict[str, str], prices: dict[str, dict]) -> dict:
    """`customers` with a default card each, in the order they joined; `currencies` by customer id; `prices`
    (one-time) by name. Answers what was made, by kind."""
    rng = random.Random(SEED)
    now = int(time.time())
    start = now - DAYS * DAY
    joined = {}
    for n, customer in enumerate(customers):  # from 20 days before the window to its middle, two days apart
        joined[customer["id"]] = start - 20 * DAY + n * 2 * DAY
        _control("backdate", {"id": customer["id"], "created": joined[customer["id"]]})

    charges = []  # (charge id, currency, created)
    for day in range(DAYS):
        for k in range(rng.randint(*PAYMENTS_PER_DAY)):
            created = start + day * DAY + rng.randrange(DAY)
            customer = rng.choice([c for c in customers if joined[c["id"]] <= created])
            currency = currencies[customer["id"]]
            intent = stripe.create(
                "/v1/payment_intents",
                amount=rng.choice(PAYMENT_AMOUNTS),
                currency=currency,
                customer=customer["id"],
                payment_method=customer["invoice_settings"]["default_payment_method"],
                confirm=True,
                idempotency_key=f"demo-payment-{day}-{k}",
            )
            charge_id = _id(intent["latest_charge"])
            _control("backdate", {"id": charge_id, "created": created})
            charges.append((charge_id, currency, created))

    refunded = set()
    for charge_id, _, created in charges:
        if rng.randrange(REFUND_ONE_IN) == 0:
            charge = stripe.retrieve("/v1/charges", charge_id)
            amount = charge["amount"] if rng.random() < 0.5 else charge["amount"] // 2
            refund = stripe.create(
                "/v1/refunds", charge=charge_id, amount=amount, idempotency_key=f"demo-refund-{charge_id}"
            )
            _control("backdate", {"id": refund["id"], "created": min(created + rng.randint(1, 3) * DAY, now - 60)})
            refunded.add(charge_id)

    disputed = [c for c in charges if c[0] not in refunded][:: max(len(charges) // (2 * len(DISPUTES)), 1)]
    disputes = [
        _control(
            "disputes",
            {"charge": charge_id, "status": status, "reason": reason, "created": min(created + 5 * DAY, now - 60)},
        )
        for (charge_id, _, created), (status, reason) in zip(disputed, DISPUTES, strict=False)
    ]

    payouts = []
    for currency in sorted({c[1] for c in charges}):
        window_start = start
        while window_start + PAYOUT_EVERY_DAYS * DAY + 2 * DAY < now:
            window_end = window_start + PAYOUT_EVERY_DAYS * DAY
            swept = [c[0] for c in charges if c[1] == currency and window_start <= c[2] < window_end]
            latest = window_end + PAYOUT_EVERY_DAYS * DAY + 2 * DAY >= now
            status = "in_transit" if latest else ("failed" if len(payouts) == 1 else "paid")
            payout = _control(
                "payouts",
                {
                    "currency": currency,
                    "charges": swept,
                    "status": status,
                    "created": window_end + DAY,
                    "stripe_account": DEMO_STRIPE_ACCOUNT,  # the route takes the payer from its body
                },
            ) if swept else None  # fmt: skip
            if payout is not None:
                payouts.append(payout)
            window_start = window_end

    links = [_payment_link(stripe, n, link, customers, currencies, prices) for n, link in enumerate(PAYMENT_LINKS)]
    return {
        "payments": len(charges),
        "refunds": len(refunded),
        "disputes": len([d for d in disputes if d]),
        "payouts": len(payouts),
        "payment_links": len(links),
        "payment_link_invoices": links,
    }


def _payment_link(stripe, n: int, link: tuple, customers: list[dict], currencies: dict, prices: dict) -> dict:
    description, lines, currency, outcome = link
    customer = [c for c in customers if currencies[c["id"]] == currency][n]
    invoice = stripe.create(
        "/v1/invoices",
        customer=customer["id"],
        collection_method="send_invoice",
        days_until_due=30,
        description=description,
        metadata={"demo": "payment-link"},
        idempotency_key=f"demo-link-{n}",
    )
    for amount_or_price, quantity in lines:
        if isinstance(amount_or_price, int):
            line = {"amount": amount_or_price * quantity, "currency": currency, "description": description}
        else:
            line = {"price": prices[amount_or_price]["id"], "quantity": quantity}
        stripe.create("/v1/invoiceitems", customer=customer["id"], invoice=invoice["id"], **line)
    invoice = stripe.request("post", f"/v1/invoices/{invoice['id']}/finalize")
    if outcome == "paid":
        invoice = stripe.request("post", f"/v1/invoices/{invoice['id']}/pay")
    elif outcome == "void":
        invoice = stripe.request("post", f"/v1/invoices/{invoice['id']}/void")
    return invoice
