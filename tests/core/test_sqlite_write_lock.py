"""Webhook intake waits for SQLite's write lock in small steps (core/db/sqlite_write_lock.py) instead of SQLite's
busy handler: it must get the lock once it is free, give up after the connection's own busy timeout as the busy
handler would, and leave that timeout as it found it. A real lock, held by another connection in a thread."""

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from accounts.models import Account
from core.db.sqlite_write_lock import polling_write_lock
from tests.helpers.polling import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _busy_timeout() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return cursor.fetchone()[0]


class LockHeldElsewhere:
    """Another connection (its own thread) holds the write lock until `release()`."""

    def __init__(self):
        self.held, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self):
        try:
            with transaction.atomic():  # BEGIN IMMEDIATE (settings: transaction_mode): the write lock
                self.held.set()
                self._release.wait(60)
        finally:
            connections.close_all()

    def __enter__(self):
        self._thread.start()
        assert self.held.wait(30)
        return self

    def release(self):
        self._release.set()

    def __exit__(self, *exc):
        self.release()
        self._thread.join(30)


@pytest.fixture
def sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single write lock (PostgreSQL: `work` runs as it is)")


def test_a_writer_gets_the_lock_once_it_is_released_and_the_busy_timeout_is_kept(sqlite):
    before = _busy_timeout()
    attempts = []

    def work():
        attempts.append(1)
        with transaction.atomic():
            return Account.objects.create(name="written").pk

    with LockHeldElsewhere() as holder:
        # The lock frees once the writer has found it taken (it is then waiting for it).
        releaser = threading.Thread(target=lambda: wait_until(lambda: attempts) and holder.release(), daemon=True)
        releaser.start()
        pk = polling_write_lock(work)
        releaser.join(30)

    assert Account.objects.filter(pk=pk).exists()
    assert len(attempts) >= 2  # it tried again, it did not fail on the held lock
    assert _busy_timeout() == before


@pytest.fixture
def busy_timeout_50ms(sqlite):
    before = _busy_timeout()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 50")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {before}")


def test_a_lock_never_released_fails_after_the_connections_busy_timeout(busy_timeout_50ms):
    attempts = []

    def work():
        attempts.append(1)
        with transaction.atomic():
            Account.objects.create(name="never")

    with LockHeldElsewhere(), pytest.raises(OperationalError, match="locked"):
        polling_write_lock(work)

    assert len(attempts) > 1
    assert not Account.objects.filter(name="never").exists()
    assert _busy_timeout() == 50


def test_other_failures_are_not_retried():
    attempts = []

    def work():
        attempts.append(1)
        raise OperationalError("no such table: nowhere")

    with pytest.raises(OperationalError):
        polling_write_lock(work)
    assert attempts == [1]
