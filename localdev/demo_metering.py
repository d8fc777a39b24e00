"""The demo account's metering (development only): twelve weeks of usage on its plan, one of them past the quota,
and an extras pack, so the usage chart and the extras page have something to show. Idempotent: attribution keys
and the pack's session id are fixed, so a second run adds nothing (replays). The pack is credited as the webhook
would credit a paid session, without going through the local Stripe's checkout (its store is emptied on every
start; the ledger is ours)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from metering.services.attribution import AttributionInput, attributions_apply
from metering.services.extras import extras_topup_from_session

DEMO_PACK = "extras-10k"
DEMO_PACK_PRICE_CENTS = 9_000
# Share of the weekly quota used, this week first, then each earlier week (one past its quota: extras spent).
WEEKLY_SHARE = [
    Decimal("0.86"),
    Decimal("0.62"),
    Decimal("1.35"),
    Decimal("0.48"),
    Decimal("0.71"),
    Decimal("0.55"),
    Decimal("0.9"),
    Decimal("0.33"),
    Decimal("0.64"),
    Decimal("0.41"),
    Decimal("0.77"),
    Decimal("0.58"),
]
RUNS_PER_WEEK = 6


def seed_metering(account) -> dict:
    from plans.services.defaults import account_subscription_ensure

    now = timezone.now()
    quota = account_subscription_ensure(account=account).plan_version.weekly_quota
    credited = extras_topup_from_session(
        session={
            "id": "cs_demo_extras_pack",
            "mode": "payment",
            "payment_status": "paid",
            "amount_total": DEMO_PACK_PRICE_CENTS,
            "currency": "usd",
            "payment_intent": "pi_demo_extras_pack",
            "metadata": {"kind": "extras", "pack_id": DEMO_PACK, "account_id": str(account.pk)},
        },
        now=now - timedelta(weeks=3),
    )
    applied = 0
    for weeks_ago, share in enumerate(WEEKLY_SHARE):
        dollars = Decimal(quota) * share / 1000 / RUNS_PER_WEEK  # DOLLARS_TO_UNIT_RATIO's default
        items = [
            AttributionInput(
                key=f"demo-{weeks_ago}-{run}:initial",
                costs={
                    "gpu": (dollars * Decimal("0.6")).quantize(Decimal("0.0001")),
                    "llm": (dollars * Decimal("0.4")).quantize(Decimal("0.0001")),
                },
            )
            for run in range(RUNS_PER_WEEK)
        ]
        moment = now - timedelta(weeks=weeks_ago, hours=1) if weeks_ago else now
        applied += sum(r.applied for r in attributions_apply(account_id=account.pk, items=items, now=moment))
    return {"attributions_applied": applied, "pack_credited": credited is not None}
