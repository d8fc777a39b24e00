"""Thin Celery tasks of our billing of accounts (sent by name; see docs/architecture.md)."""
