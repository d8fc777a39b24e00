"""Tasks by explicit name, on their own queues, with time limits, and a visibility timeout beyond every retry
delay (issue 10 item 6)."""

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from billing.stripe.sync import SYNC_RESOURCE_TASK
from billing.webhooks.intake import PROCESS_EVENTS_TASK as INTAKE_TASK
from billing.webhooks.processing import PROCESS_EVENT_TASK, PROCESS_EVENTS_TASK
from billing_project.celery import app as celery_app
from localdev.stack import WORKER_QUEUES
from tests.helpers.celery_worker import configured_queues

SENT = {
    SYNC_RESOURCE_TASK: "sync",
    INTAKE_TASK: "webhooks",
    PROCESS_EVENTS_TASK: "webhooks",
    PROCESS_EVENT_TASK: "webhooks",
}


def _registered() -> dict:
    celery_app.loader.import_default_modules()
    return celery_app.tasks


@pytest.mark.parametrize(("name", "queue"), sorted(SENT.items()))
def test_every_sender_names_a_registered_task_routed_to_its_queue(name, queue):
    assert name.startswith("billing.") and not name.startswith("billing.tasks.")
    assert name in _registered()
    assert celery_app.amqp.router.route({}, name)["queue"].name == queue


def test_webhook_and_sync_work_never_share_a_queue():
    routes = settings.CELERY_TASK_ROUTES
    assert {routes[name]["queue"] for name in SENT if "webhook" in name} == {"webhooks"}
    assert routes[SYNC_RESOURCE_TASK]["queue"] == "sync"
    assert set(configured_queues()) == {"webhooks", "sync", "imports", "default", "metering"}


def test_the_development_worker_and_the_test_worker_consume_every_queue():
    assert set(WORKER_QUEUES) == set(configured_queues())


@pytest.mark.django_db
def test_every_beat_row_names_a_registered_task():
    rows = dict(PeriodicTask.objects.filter(name__startswith="billing:").values_list("name", "task"))
    assert rows == {
        "billing: sweep webhook events": "billing.sweep_webhook_events",
        "billing: sweep sync runs": "billing.sweep_sync_runs",
        "billing: backfill webhook events from the Events API": "billing.backfill_webhook_events",
    }
    # Every app's beat rows, not only billing's: a row naming no task would fail at every tick, silently.
    every_row = set(PeriodicTask.objects.exclude(task="celery.backend_cleanup").values_list("task", flat=True))
    assert every_row <= set(_registered())


def test_every_task_has_time_limits_and_the_visibility_timeout_outlasts_any_retry():
    tasks = [task for name, task in _registered().items() if name.startswith("billing.")]
    assert {task.name for task in tasks} >= {*SENT, "billing.backfill_webhook_source", "billing.replay_webhook_event"}
    for task in tasks:
        soft = task.soft_time_limit or celery_app.conf.task_soft_time_limit
        hard = task.time_limit or celery_app.conf.task_time_limit
        assert soft and hard and soft < hard, task.name
        # A retry is held by the worker that fetched it until its countdown, then runs: both within the timeout.
        longest_delay = max(settings.WEBHOOK_RETRY_MAX_SECONDS, settings.BILLING_SYNC_RETRY_MAX_SECONDS)
        assert celery_app.conf.broker_transport_options["visibility_timeout"] > longest_delay + hard, task.name


def test_the_visibility_timeout_follows_the_retry_caps(monkeypatch):
    import importlib

    import billing_project.settings as configured

    monkeypatch.setenv("WEBHOOK_RETRY_MAX_SECONDS", "86400")
    try:
        reloaded = importlib.reload(configured)
        assert reloaded.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > 86400 + 360
    finally:
        monkeypatch.delenv("WEBHOOK_RETRY_MAX_SECONDS")
        importlib.reload(configured)
