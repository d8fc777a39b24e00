"""Building ledgers for tests through the services (never by writing rows)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from metering.models import Topup
from metering.services.ledger import balance_locked, topup_append

_count = iter(range(1, 10**9))


def topup(account, units: int = 100, *, price_cents: int = 1000, days: int = 30, pi: str | None = None, now=None):
    """A paid pack credited as the webhook would (its own session id and payment intent)."""
    now = now or timezone.now()
    n = next(_count)
    with transaction.atomic():
        return topup_append(
            balance=balance_locked(account_id=account.pk),
            ref=f"cs_test_{n}",
            pack_id="test-pack",
            units=units,
            price_cents=price_cents,
            currency="usd",
            payment_intent_id=pi or f"pi_test_{n}",
            expires_at=now + timedelta(days=days),
            now=now,
        )


def remaining(t: Topup) -> int:
    return Topup.objects.values_list("remaining_units", flat=True).get(pk=t.pk)
