"""A plan's next version (METERING.md "Plans"): versions are immutable, so any change of quota, ratios or prices is
a new version that deactivates the previous one in the same transaction.

Two bumps of one plan at once are serialised by a lock on the plan's row, taken first: without it both read the same
last version, and on PostgreSQL two of them can each hold the lock the other's insert into the one-active-version index
waits for (a deadlock, seen in CI with four bumps at once). A version written some other way (the admin, a migration)
can still make ours hit the unique (plan, version) or the one-active-version constraint: that conflict is retried after
100, 300, 900 ms with a fresh read. Nothing else is retried."""

import logging
import time
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from plans.models import Plan, PlanVersion

logger = logging.getLogger(__name__)

BACKOFF_MS = (100, 300, 900)
DEFAULT_MAX_ATTEMPTS = 3


def backoff_seconds(attempt: int) -> float:
    """The wait after the failed attempt `attempt` (1-based): 100, 300, 900 ms, then 900 ms again."""
    return BACKOFF_MS[min(attempt, len(BACKOFF_MS)) - 1] / 1000


def validate_max_attempts(max_attempts) -> int:
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise InvalidInput(
            f"max_attempts must be a positive integer, not {max_attempts!r}.", details={"max_attempts": max_attempts}
        )
    return max_attempts


def plan_version_bump(
    *,
    plan: Plan,
    weekly_quota: int | None = None,
    ratios: dict | None = None,
    stripe_price_month: str | None = None,
    stripe_price_year: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> PlanVersion:
    """Writes version N+1 (what is not given is copied from the active version) and deactivates version N
    (`effective_until` = now). Raises Conflict when every attempt lost the race."""
    validate_max_attempts(max_attempts)
    for attempt in range(1, max_attempts + 1):
        try:
            with transaction.atomic():
                return _bump_once(
                    plan=plan,
                    weekly_quota=weekly_quota,
                    ratios=ratios,
                    stripe_price_month=stripe_price_month,
                    stripe_price_year=stripe_price_year,
                )
        except IntegrityError:
            if attempt == max_attempts:
                raise Conflict(
                    f"Another version of plan {plan.slug!r} was written at the same time {max_attempts} times in a "
                    "row. Try again.",
                    code="plan_version_conflict",
                ) from None
            logger.info("plan %s: version bump conflict (attempt %s), retrying", plan.slug, attempt)
            sleep(backoff_seconds(attempt))
    raise AssertionError("unreachable")


def _bump_once(*, plan, weekly_quota, ratios, stripe_price_month, stripe_price_year) -> PlanVersion:
    # Waits for any other bump of this plan to commit, so the reads below see its version.
    Plan.objects.select_for_update().filter(pk=plan.pk).first()
    current = PlanVersion.objects.filter(plan=plan, active=True).first()
    last = PlanVersion.objects.filter(plan=plan).aggregate(last=Max("version"))["last"] or 0
    now = timezone.now()
    if current is not None:
        # Conditional: a concurrent bump that deactivated it first makes ours insert a duplicate number and fail.
        PlanVersion.objects.filter(pk=current.pk, active=True).update(active=False, effective_until=now)
    return PlanVersion.objects.create(
        plan=plan,
        version=last + 1,
        weekly_quota=weekly_quota if weekly_quota is not None else current.weekly_quota,
        ratios=ratios if ratios is not None else (current.ratios if current else {"default": "1"}),
        stripe_price_month=_given_or(stripe_price_month, current, "stripe_price_month"),
        stripe_price_year=_given_or(stripe_price_year, current, "stripe_price_year"),
        effective_from=now,
        active=True,
    )


def _given_or(value, current, field: str) -> str:
    if value is not None:
        return value
    return getattr(current, field) if current is not None else ""
