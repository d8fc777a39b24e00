"""A lease in Redis: a key holding its holder's token for a limited time, renewed by the holder only. Beat's
singleton lock (core/beat_scheduler.py); nothing here knows about beat."""

import os
import socket
import uuid

import redis

# Compare-and-act in one step on the server: a holder whose lease expired (and was taken by another) must neither
# renew nor delete the new holder's key.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisLease:
    def __init__(self, client: redis.Redis, key: str, ttl_seconds: float):
        self.client = client
        self.key = key
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        # Says who holds it to whoever stands by (host and pid), and is unique per holder all the same.
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, key: str, ttl_seconds: float) -> "RedisLease":
        # Short timeouts: a Redis that stopped answering must not hold the caller longer than a fraction of the TTL.
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        return cls(client, key, ttl_seconds)

    def hold(self) -> bool:
        """Renews the lease if it is ours, else takes it if nobody holds it. True if ours afterwards. Raises
        redis.RedisError when Redis cannot be reached."""
        if self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
            return True
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        """Gives the lease up if it is still ours, so that another holder need not wait for it to expire."""
        self._release(keys=[self.key], args=[self.token])

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value is not None else None
