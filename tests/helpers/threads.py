"""Running the same thing from several threads at once, each with its own database connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections


def run_concurrently(fn, count: int, *, timeout: float = 60) -> list:
    """Calls fn(i) from `count` threads released together by a barrier; answers their results in order.
    Each thread closes its own database connection (a test database with open connections cannot be dropped)."""
    barrier = threading.Barrier(count)

    def worker(i):
        try:
            barrier.wait(timeout=timeout)
            return fn(i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(worker, i) for i in range(count)]
        return [future.result(timeout=timeout) for future in futures]
