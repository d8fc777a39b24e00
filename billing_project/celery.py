import os

from celery import Celery
from celery.signals import after_setup_task_logger, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")

app = Celery("billing_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_task_logger.connect
def _task_loggers_log_like_the_rest(logger=None, **_):
    """Celery gives its task loggers (`celery.task.*`) a handler and formatter of its own and stops them from
    propagating; their records go through the root handler instead (settings.LOGGING: the line or, with
    LOG_FORMAT=json, the JSON object, with the task id as request_id either way)."""
    if logger is not None:
        logger.handlers = []
        logger.propagate = True


@task_prerun.connect
def _bind_task_log_context(task_id=None, kwargs=None, **_):
    from core.logcontext import bind_account, request_id_var

    request_id_var.set(f"task:{task_id}")
    bind_account((kwargs or {}).get("account_id"))


@task_postrun.connect
def _clear_task_log_context(**_):
    from core.logcontext import bind_account, request_id_var

    request_id_var.set("-")
    bind_account(None)


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_around_requests(sender=None, **_):
    """CELERY_DB_REUSE_MAX keeps Celery's fix-up from closing the connection around every task; this does what
    Django does around a request instead: drop a connection that failed or outlived CONN_MAX_AGE. Not for an
    eager task, which runs inside its caller's transaction."""
    if sender is not None and not getattr(sender.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()
