"""Plan versions (METERING.md "Plans"): a bump deactivates the previous version; a conflicting bump retries with
backoff 100/300/900 ms; `max_attempts` is a positive integer; concurrent bumps end consecutive with one active."""

import pytest
from django.db import IntegrityError

from core.errors import Conflict, InvalidInput
from plans.models import PlanVersion
from plans.services import versions
from plans.services.versions import backoff_seconds, plan_version_bump
from tests.helpers.threads import run_concurrently
from tests.plans.conftest import PRO_MONTH, paid_plan

pytestmark = pytest.mark.django_db


def test_a_bump_writes_the_next_version_and_deactivates_the_previous(pro):
    new = plan_version_bump(plan=pro.plan, weekly_quota=20_000)

    pro.refresh_from_db()
    assert (new.version, new.active, new.weekly_quota, new.stripe_price_month) == (2, True, 20_000, PRO_MONTH)
    assert (pro.active, pro.effective_until) == (False, new.effective_from)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True, None])
def test_max_attempts_must_be_a_positive_integer(pro, bad):
    with pytest.raises(InvalidInput, match="max_attempts"):
        plan_version_bump(plan=pro.plan, max_attempts=bad)
    assert PlanVersion.objects.filter(plan=pro.plan).count() == 1


def test_the_backoff_is_100_300_900_ms():
    assert [backoff_seconds(attempt) for attempt in (1, 2, 3, 4)] == [0.1, 0.3, 0.9, 0.9]


def test_a_conflict_is_retried_after_the_backoff_and_gives_up_after_max_attempts(pro, monkeypatch):
    """The conflict is what a concurrent bump makes (proven for real on PostgreSQL below); here the first
    attempts raise it as the database would, to check the retry schedule without timing anything."""
    real = versions._bump_once
    calls = []

    def conflicting_twice(**kwargs):
        calls.append(1)
        if len(calls) <= 2:
            raise IntegrityError("duplicate key value violates unique constraint plan_version_unique")
        return real(**kwargs)

    monkeypatch.setattr(versions, "_bump_once", conflicting_twice)
    slept = []
    assert plan_version_bump(plan=pro.plan, sleep=slept.append).version == 2
    assert slept == [0.1, 0.3]

    calls.clear()
    slept.clear()
    with pytest.raises(Conflict):
        plan_version_bump(plan=pro.plan, max_attempts=2, sleep=slept.append)
    assert slept == [0.1]


def test_other_errors_are_not_retried(pro, monkeypatch):
    monkeypatch.setattr(versions, "_bump_once", lambda **kwargs: (_ for _ in ()).throw(ValueError("boom")))
    slept = []
    with pytest.raises(ValueError):
        plan_version_bump(plan=pro.plan, sleep=slept.append)
    assert slept == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_bumps_end_with_consecutive_versions_and_exactly_one_active(requires_postgres):
    version_1 = paid_plan("race", "price_race_month")
    threads = 4

    def bump(i):
        return plan_version_bump(plan=version_1.plan, weekly_quota=1000 + i, max_attempts=threads).version

    written = run_concurrently(bump, threads)

    rows = list(PlanVersion.objects.filter(plan=version_1.plan).order_by("version"))
    assert sorted(written) == [2, 3, 4, 5]
    assert [row.version for row in rows] == [1, 2, 3, 4, 5]
    assert [row.version for row in rows if row.active] == [5]
    # Each deactivated version ends where its successor starts.
    for previous, following in zip(rows, rows[1:], strict=False):
        assert previous.effective_until == following.effective_from
