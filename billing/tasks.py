"""Thin Celery tasks: load by id, call a service. Queued after commit (`delay_on_commit`)."""
