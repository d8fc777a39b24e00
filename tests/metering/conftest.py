"""Metering's fixtures. After every test that used the database, the ledger check must pass (METERING.md: the
cached balance always equals the sum of the entries); a test that tampers with a balance on purpose says so with
`@pytest.mark.ledger_tampered`."""

import io

import pytest
from django.core.management import call_command

from metering.services.attribution import AttributionInput, attributions_apply
from plans.models import AccountSubscription, Plan, PlanVersion


def pytest_configure(config):
    config.addinivalue_line("markers", "ledger_tampered: the test breaks a balance on purpose (no ledger check after)")


@pytest.fixture(autouse=True)
def _ledger_check_after(request):
    yield
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db or request.node.get_closest_marker("ledger_tampered"):
        return
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("metering_ledger_check", stdout=out, stderr=err)
    except SystemExit as exit_:  # pragma: no cover - the failure is the message
        pytest.fail(f"ledger check failed after the test (exit {exit_.code}): {err.getvalue()}")


def plan_version(*, slug="pro", quota=100, ratios=None, version=1) -> PlanVersion:
    from django.utils import timezone

    plan, _ = Plan.objects.get_or_create(slug=slug, defaults={"name": slug.title()})
    return PlanVersion.objects.create(
        plan=plan,
        version=version,
        weekly_quota=quota,
        ratios=ratios if ratios is not None else {"default": "1"},
        effective_from=timezone.now(),
    )


def put_on(account, version: PlanVersion) -> AccountSubscription:
    subscription = AccountSubscription.objects.get(account=account)
    subscription.plan, subscription.plan_version = version.plan, version
    subscription.save(update_fields=["plan", "plan_version"])
    return subscription


@pytest.fixture
def pro(account):
    """`account` on a plan of 100 units a week, one dollar = 1,000 units (ratio 1, gpu 2.5)."""
    version = plan_version(quota=100, ratios={"gpu": "2.5", "default": "1"})
    put_on(account, version)
    return version


def attribute(account, key: str, costs=None, **kwargs):
    history_id, _, step = key.partition(":")
    (result,) = attributions_apply(
        account_id=account.pk, items=[AttributionInput(key=f"{history_id}:{step or 'initial'}", costs=costs)], **kwargs
    )
    return result


def units(n: int) -> dict:
    """Costs worth exactly `n` units at ratio 1 (DOLLARS_TO_UNIT_RATIO 1000)."""
    from decimal import Decimal

    return {"default": Decimal(n) / 1000}


@pytest.fixture
def other_account(db):
    from tests.factories import AccountFactory

    return AccountFactory()
