from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares and that belongs to none: errors, the API's error shape and pagination, the log
    context, queueing work after commit, encrypted secrets, backoff, database tuning. It imports no app."""

    name = "core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from core import checks  # noqa: F401 - registers the system checks
        from core.db import psycopg_arrays

        connection_created.connect(psycopg_arrays.install, dispatch_uid="core.psycopg_arrays")
