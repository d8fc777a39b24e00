"""One way to queue work: a Celery task sent by its name, after the surrounding transaction commits.

By name, so that a service never imports the tasks module (tasks import services: importing back made the
only import cycle). After commit, so that a worker never looks for a row that is not committed yet, and work
whose cause was rolled back never runs. Zulip's `queue_event_on_commit` is the model.

The task is looked up in Celery's registry and sent with `apply_async`, so eager mode (tests, scripts) runs it
in place as a direct call would; an unknown name raises KeyError at the sender instead of a message no worker
can run."""

from celery import current_app
from django.db import transaction


def _task(name: str):
    tasks = current_app.tasks
    if name not in tasks:
        # Autodiscovery of every app's tasks module happens lazily (a worker does it at start-up).
        current_app.loader.import_default_modules()
    return tasks[name]


def enqueue(task_name: str, *args, countdown: float | None = None, **kwargs) -> None:
    """Sends the task now. For code that already runs after its commit (an on_commit callback, a task)."""
    _task(task_name).apply_async(args=args, kwargs=kwargs, countdown=countdown)


def enqueue_on_commit(task_name: str, *args, countdown: float | None = None, **kwargs) -> None:
    """Sends the task once the current transaction commits (at once outside a transaction); never if it rolls
    back. A broker failure then raises from the commit's callbacks: callers whose work is safe without the
    message (a sweeper re-sends it) use `transaction.on_commit(..., robust=True)` around `enqueue` instead."""
    transaction.on_commit(lambda: enqueue(task_name, *args, countdown=countdown, **kwargs))
