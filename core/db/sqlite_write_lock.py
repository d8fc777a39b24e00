"""Waiting for SQLite's write lock in small steps, for the writers whose latency someone waits on (webhook intake).

SQLite has one write lock per database. A writer that finds it taken calls SQLite's busy handler, which sleeps
in growing steps (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms, then 100 ms at a time): a transaction that
waited for a lock held 30 ms sleeps until 33 or 53 ms, one held 60 ms until 78 ms. Under the webhook bench that
rounding, on top of the wait itself, made intake's p99 (docs/webhooks.md, "Benchmark").

`polling_write_lock(work)` runs `work` (which opens its own transaction: `BEGIN IMMEDIATE`, settings) with the
busy handler off and, while the lock is taken, checks every POLL_SECONDS whether it is free (a bare BEGIN on
the driver's connection, a few microseconds) and then tries `work` again, until the connection's own busy
timeout has passed; then it raises the "database is locked" error as the busy handler would have. The wait is
the lock's hold plus at most one poll.

Only safe for `work` that can run again after a failed attempt: nothing of an attempt is kept when it raises
(its transaction rolled back, its on_commit callbacks dropped). On PostgreSQL (row locks, no single writer), or
inside a transaction that already holds the lock, `work` just runs.
"""

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

POLL_SECONDS = 0.0005

T = TypeVar("T")


def _locked(exc: OperationalError) -> bool:
    message = str(exc)
    return "database is locked" in message or "database is busy" in message


def polling_write_lock(work: Callable[[], T]) -> T:
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return work()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        busy_timeout_ms = cursor.fetchone()[0]
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + busy_timeout_ms / 1000
        while True:
            try:
                return work()
            except OperationalError as exc:
                if not _locked(exc) or time.monotonic() >= deadline:
                    raise
            _wait_until_free(deadline)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


def _wait_until_free(deadline: float) -> None:
    """Polls the lock with a bare `BEGIN IMMEDIATE` on the driver's connection (about 10 us when it fails, where a
    failed attempt through Django's transaction machinery costs over 100 us of a web process's CPU), until it is
    obtained (then given back at once, for `work` to take: another writer may still come first, then `work`
    fails and this waits again) or the deadline passes."""
    raw = connection.connection
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            continue
        raw.execute("ROLLBACK")
        return
