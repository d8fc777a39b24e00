"""Concurrent HTTP clients (aiohttp, keep-alive) posting signed Stripe deliveries; per-request latency."""

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass, field

import aiohttp


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
            "p50_ms": pct(50),
            "p90_ms": pct(90),
            "p99_ms": pct(99),
            "max_ms": round(lat[-1], 2) if lat else None,
        }


async def _run(base_url: str, requests: list[tuple[str, bytes, str]], clients: int) -> LoadResult:
    """requests: (path, body, signing secret). Each client takes the next request when its previous answered."""
    result = LoadResult()
    cursor = iter(range(len(requests)))
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)

    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:

        async def client():
            for index in cursor:
                path, body, secret = requests[index]
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": stripe_signature(body, secret, int(time.time())),
                }
                started = time.perf_counter()
                try:
                    async with session.post(path, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    result.errors.append(repr(exc))
                    continue
                elapsed_ms = (time.perf_counter() - started) * 1000
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    result.latencies_ms.append(elapsed_ms)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        result.wall_seconds = time.perf_counter() - started
    return result


def post_all(base_url: str, requests: list[tuple[str, bytes, str]], clients: int) -> LoadResult:
    return asyncio.run(_run(base_url, requests, clients))


async def _warm(base_url: str, path: str, count: int) -> None:
    async with aiohttp.ClientSession(base_url) as session:
        for _ in range(count):
            async with session.get(path) as response:
                await response.read()


def warm_up(base_url: str, path: str, count: int = 50) -> None:
    """A few requests first, so each server process has loaded Django before the clock starts."""
    asyncio.run(_warm(base_url, path, count))
