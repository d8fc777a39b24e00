"""Concurrent HTTP/1.1 clients (keep-alive, one connection each) posting signed Stripe deliveries, with the
latency of each answer.

Written on asyncio streams rather than an HTTP library: the clients share the machine with the servers they
measure, and a general-purpose client costs about as much CPU per request as the intake being measured. These
only do what the benchmark needs: POST with Content-Length, read an answer framed by Content-Length or
chunked encoding.
"""

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class LoadResult:
    wall_seconds: float = 0.0
    latencies_ms: list = field(default_factory=list)  # of the 2xx answers
    statuses: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    def summary(self, deliveries: int) -> dict:
        lat = sorted(self.latencies_ms)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))], 2) if lat else None

        ok = len(lat)
        return {
            "deliveries": deliveries,
            "acknowledged_2xx": ok,
            "non_2xx": {str(k): v for k, v in sorted(self.statuses.items()) if not 200 <= k < 300},
            "transport_errors": len(self.errors),
            "wall_s": round(self.wall_seconds, 2),
            "events_per_s": round(ok / self.wall_seconds, 1) if self.wall_seconds else None,
            "answered_per_s": round(sum(self.statuses.values()) / self.wall_seconds, 1) if self.wall_seconds else None,
            "p50_ms": pct(50),
            "p90_ms": pct(90),
            "p99_ms": pct(99),
            "max_ms": round(lat[-1], 2) if lat else None,
        }


class _Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = None, False, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                close = True
        if chunked:
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        elif length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def _run(base_url: str, requests: list[tuple[str, bytes, str]], clients: int) -> LoadResult:
    """requests: (path, body, signing secret). Each client takes the next request when its previous answered."""
    url = urlparse(base_url)
    result = LoadResult()
    cursor = iter(range(len(requests)))

    async def client():
        connection = _Connection(url.hostname, url.port)
        for index in cursor:
            path, body, secret = requests[index]
            headers = {
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_signature(body, secret, int(time.time())),
            }
            started = time.perf_counter()
            try:
                status = await asyncio.wait_for(connection.request("POST", path, body, headers), 60)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
                result.errors.append(repr(exc))
                connection.close()
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if 200 <= status < 300:
                result.latencies_ms.append(elapsed_ms)
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.wall_seconds = time.perf_counter() - started
    return result


def post_all(base_url: str, requests: list[tuple[str, bytes, str]], clients: int) -> LoadResult:
    return asyncio.run(_run(base_url, requests, clients))


async def _warm(base_url: str, path: str, count: int) -> None:
    url = urlparse(base_url)
    connection = _Connection(url.hostname, url.port)
    for _ in range(count):
        await connection.request("GET", path)
        connection.close()  # a new connection each time, so that every server process gets some


def warm_up(base_url: str, path: str, count: int = 50) -> None:
    """A few requests first, so each server process has loaded Django before the clock starts."""
    asyncio.run(_warm(base_url, path, count))
