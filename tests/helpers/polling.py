"""Waiting for something asynchronous without fixed sleeps: poll a condition until a deadline."""

import time


def wait_until(condition, *, timeout: float = 20, interval: float = 0.05, message: str = "condition"):
    """Answers condition()'s first truthy value; fails the test if the deadline passes first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
