"""Test handlers on the real registry, registered for one test and removed after."""

import threading
from contextlib import contextmanager

from billing.webhooks import registry as handlers


class RecordingHandler:
    """Counts its runs (thread-safe); fails its first `failures` runs, or every run with always_fail."""

    def __init__(self, *, failures: int = 0, always_fail: bool = False, on_run=None):
        self.failures = failures
        self.always_fail = always_fail
        self.on_run = on_run
        self.calls = []
        self.successes = []
        self._lock = threading.Lock()

    def __call__(self, event):
        with self._lock:
            self.calls.append(event.stripe_event_id)
            run = len(self.calls)
        if self.on_run:
            self.on_run(event)
        if self.always_fail or run <= self.failures:
            raise RuntimeError(f"handler fault on run {run}")
        with self._lock:
            self.successes.append(event.stripe_event_id)


@contextmanager
def registered(relationship: str, event_type: str, handler):
    handlers.handles(relationship, event_type)(handler)
    try:
        yield handler
    finally:
        handlers.unregister(relationship, event_type)


@contextmanager
def listening(relationship: str, event_type: str, listener):
    handlers.listens(relationship, event_type)(listener)
    try:
        yield listener
    finally:
        handlers.unlisten(relationship, event_type, listener)
