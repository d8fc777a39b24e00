"""A real Celery worker (in a thread of the test process, solo pool) consuming from a real broker: tasks cross
the broker as in production, retries wait for their countdown, and test handlers registered in this process
are visible to it."""

from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker

from billing_project.celery import app as celery_app


def _forget_broker_connections() -> None:
    """The connection and producer pools were made for the broker in use when first needed (as Celery does in
    a forked child)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def real_broker(broker_url: str):
    """Tasks published to a real broker (not run in place), with or without a worker consuming."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager)
    conf.broker_url, conf.task_always_eager = broker_url, False
    _forget_broker_connections()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager = saved
        _forget_broker_connections()


def configured_queues() -> list[str]:
    return [queue.name for queue in celery_app.conf.task_queues]


@contextmanager
def celery_worker(broker_url: str, queues: list[str] | None = None):
    """A worker consuming every configured queue (as the development stack's), or only `queues`."""
    with (
        real_broker(broker_url),
        start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            shutdown_timeout=10,
            queues=queues or configured_queues(),
        ) as worker,
    ):
        yield worker
