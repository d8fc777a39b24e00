"""The ledger checks run by beat every day (metering/migrations/0003, marketplace/migrations/0002), not only when
someone types the command: their result is what /metrics reports, and each difference is logged as an error."""

import logging
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django_celery_beat.models import PeriodicTask

from core.models import CheckResult
from marketplace.models import Balance
from metering.models import ExtrasBalance
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

CHECKS = {
    "metering.check_ledger": ("metering_ledger", "metering", "5"),
    "marketplace.check_balances": ("onebalance_ledger", "default", "5"),
}


@pytest.fixture
def app():
    """The Celery app with every app's tasks registered. Imported in a fixture: the import configures logging
    again, which would drop the handler that `caplog` reads if it happened inside the test."""
    from billing_project.celery import app

    app.loader.import_default_modules()
    return app


def test_each_check_is_scheduled_daily_and_routed_to_a_queue_a_worker_consumes(app):
    from tests.helpers.celery_worker import configured_queues

    # A transactional test empties the tables the migrations filled: run the data migrations' functions again
    # (twice: they are idempotent).
    for module in (
        "metering.migrations.0003_ledger_check_schedule",
        "marketplace.migrations.0002_balance_check_schedule",
    ):
        create_schedule = import_module(module).Migration.operations[0].code
        create_schedule(django_apps, None)
        create_schedule(django_apps, None)
    for task, (_check, queue, hour) in CHECKS.items():
        row = PeriodicTask.objects.select_related("crontab").get(task=task)
        assert (row.enabled, row.crontab.hour, row.crontab.day_of_week, str(row.crontab.timezone)) == (
            True,
            hour,
            "*",
            "UTC",
        )
        assert task in app.tasks
        assert app.amqp.router.route({}, task)["queue"].name == queue
        assert queue in configured_queues()


def test_the_beat_tasks_record_a_failing_check_and_log_each_difference(app, account, caplog):
    ExtrasBalance.objects.create(account=account, cached_balance=5)  # no entry adds up to it
    Balance.objects.create(account=account, agency=AccountFactory(), currency="usd", amount=700)  # nor to this one
    with caplog.at_level(logging.ERROR):
        assert app.tasks["metering.check_ledger"].apply().get() == 1
        assert app.tasks["marketplace.check_balances"].apply().get() == 1
    results = {r.name: (r.ok, r.problems) for r in CheckResult.objects.all()}
    assert results == {"metering_ledger": (False, 1), "onebalance_ledger": (False, 1)}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("Extras ledger difference" in m and str(account.pk) in m for m in errors), errors
    assert any("OneBalance" in m and "700" in m for m in errors)


def test_the_beat_tasks_record_a_passing_check(app):
    assert app.tasks["metering.check_ledger"].apply().get() == 0
    assert app.tasks["marketplace.check_balances"].apply().get() == 0
    assert set(CheckResult.objects.filter(ok=True, problems=0).values_list("name", flat=True)) == {
        "metering_ledger",
        "onebalance_ledger",
    }
