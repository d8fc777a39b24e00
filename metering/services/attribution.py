"""Attribution, exactly once (METERING.md "Attribution"): one transaction records the attributions, adds their
units to the account's week, debits the overflow from the extras and marks the thresholds; the threshold events
leave after commit.

Concurrency: every attribution of an account takes this week's usage row lock first (then the balance's), so
the account's attributions apply one after another: replays are found under the lock, overflow is computed
against the committed usage, and the unique (account, key) constraint backs it."""

import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts import notifications
from accounts.models import Account
from metering.models import Attribution, LedgerEntry, UsageWeek
from metering.services.ledger import NewEntry, balance_locked, entries_append
from metering.services.weeks import usage_week_locked
from metering.thresholds import THRESHOLDS, reached
from metering.units import units_from_costs
from plans.models import PlanVersion

THRESHOLD_EVENT = "meter_threshold_crossed"
REPLAY = "replay"
METER_MODE_OFF = "meter_mode_off"


@dataclass(frozen=True)
class AttributionInput:
    key: str
    costs: dict | None  # None: no costs reported (METER_RUN_BASE units)


@dataclass
class AttributionResult:
    key: str
    applied: bool
    units: int = 0
    extras_debited: int = 0
    reason: str = ""

    def as_dict(self) -> dict:
        # By hand: dataclasses.asdict deep-copies, a measurable share of a batch of 1,000's time.
        return {
            "key": self.key,
            "applied": self.applied,
            "units": self.units,
            "extras_debited": self.extras_debited,
            "reason": self.reason,
        }


def attributions_apply(*, account_id, items: Sequence[AttributionInput], now=None) -> list[AttributionResult]:
    """Applies each item once per key (a key seen before, or earlier in the same batch, is a replay: `applied`
    false, nothing changed). Costs must have been validated (metering/units.py raises BadCost otherwise, before
    anything is written). Retries once if a concurrent first use of a key in another week won the insert."""
    if not settings.BILLING_METER_MODE:
        return [AttributionResult(item.key, False, reason=METER_MODE_OFF) for item in items]
    try:
        return _apply(account_id=account_id, items=items, now=now)
    except IntegrityError:
        return _apply(account_id=account_id, items=items, now=now)


def _apply(*, account_id, items, now) -> list[AttributionResult]:
    now = now or timezone.now()
    with transaction.atomic():
        week = usage_week_locked(account_id=account_id, now=now)
        ratios = _ratios(week.plan_version_id)
        seen = set(
            Attribution.objects.filter(account_id=account_id, key__in=[item.key for item in items]).values_list(
                "key", flat=True
            )
        )
        used_before_all = used = week.meter_used
        quota = week.meter_quota
        breakdown = dict(week.breakdown)
        results: list[AttributionResult] = []
        rows: list[tuple] = []
        debits: list[NewEntry] = []
        for item in items:
            if item.key in seen:
                results.append(AttributionResult(item.key, False, reason=REPLAY))
                continue
            seen.add(item.key)
            units = units_from_costs(
                item.costs,
                ratios=ratios,
                dollars_to_unit_ratio=settings.DOLLARS_TO_UNIT_RATIO,
                run_base=settings.METER_RUN_BASE,
                max_units=settings.MAX_UNITS_PER_OPERATION,
            )
            used_before, used = used, used + units.units
            overflow = max(0, used - max(used_before, quota))
            for category, value in units.breakdown.items():
                breakdown[category] = breakdown.get(category, 0) + value
            if overflow:
                debits.append(
                    NewEntry(kind=LedgerEntry.Kind.DEBIT, amount=-overflow, ref=item.key, week_key=week.week_key)
                )
            rows.append((item.key, units.units, overflow, json.dumps(units.breakdown), units.reason))
            results.append(AttributionResult(item.key, True, units.units, overflow, units.reason))
        if not rows:
            return results
        _insert(account_id=account_id, week_key=week.week_key, rows=rows, now=now)
        overflow_total = sum(-d.amount for d in debits)
        UsageWeek.objects.filter(pk=week.pk).update(
            meter_used=used, overflow_units=week.overflow_units + overflow_total, breakdown=breakdown
        )
        if debits:
            entries_append(balance=balance_locked(account_id=account_id), entries=debits, now=now)
        if used > used_before_all:
            _mark_thresholds(week=week, used=used, now=now)
    return results


_COLUMNS = ("account_id", "key", "week_key", "units", "extras_debited", "breakdown", "reason", "created_at")


def _insert(*, account_id, week_key: str, rows: list[tuple], now) -> None:
    """One multi-row INSERT, in SQL: the ORM's bulk_create spends more CPU preparing 1,000 rows (a model instance,
    then every field's adaptation, JSON through Django's encoder) than the database spends storing them. A
    duplicate key (only possible from another week's transaction at the week boundary) raises IntegrityError,
    which rolls back and retries the whole attribution."""
    account = Account._meta.pk.get_db_prep_value(account_id, connection)
    created = connection.ops.adapt_datetimefield_value(now)
    table = connection.ops.quote_name(Attribution._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Five arrays, whatever the number of rows: a short statement psycopg parses once and caches.
            keys, units, debited, breakdowns, reasons = (list(column) for column in zip(*rows, strict=True))
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT %s::uuid, k, %s, u, d, b::jsonb, r, %s "
                "FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS x(k, u, d, b, r)",
                [account, week_key, created, keys, units, debited, breakdowns, reasons],
            )
            return
        placeholder = "(%s, %s, %s, %s, %s, %s, %s, %s)"
        for start in range(0, len(rows), 100):  # SQLite: at most 999 parameters a statement in old builds
            chunk = rows[start : start + 100]
            params = [
                value
                for key, units_, debit, breakdown, reason in chunk
                for value in (account, key, week_key, units_, debit, breakdown, reason, created)
            ]
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholder] * len(chunk))}", params)


_ratio_cache: dict[int, dict] = {}


def _ratios(plan_version_id: int) -> dict:
    """A plan version is immutable (plans/models.py), so its ratios are read once per process."""
    ratios = _ratio_cache.get(plan_version_id)
    if ratios is None:
        ratios = _ratio_cache[plan_version_id] = dict(
            PlanVersion.objects.values_list("ratios", flat=True).get(pk=plan_version_id) or {}
        )
    return ratios


def _mark_thresholds(*, week: UsageWeek, used: int, now) -> None:
    """Each threshold reached is marked by a conditional update (only while unmarked); the event is sent only when
    that update changed the row, so once per week per threshold whatever the number of workers."""
    quota = week.meter_quota
    for threshold in THRESHOLDS:
        if not reached(used=used, quota=quota, threshold=threshold):
            continue
        field = f"alerted_at_{threshold}"
        if UsageWeek.objects.filter(pk=week.pk, **{f"{field}__isnull": True}).update(**{field: now}):
            notifications.notify_account(
                week.account_id,
                THRESHOLD_EVENT,
                {
                    "account_id": str(week.account_id),
                    "week_key": week.week_key,
                    "threshold": threshold,
                    "meter_used": used,
                    "meter_quota": quota,
                },
            )
