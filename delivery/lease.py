"""Distributed mode: one active replica per sink, through a lease in Redis.

``SET key owner NX PX ttl`` takes it; the holder renews it every third of the ttl with a
compare-and-expire and gives it back with a compare-and-delete. A replica that dies stops
renewing: its lease expires within ``ttl`` seconds and another replica takes it. The lease
orders who sends; the store's compare-and-set cursor (store/sink_state.py) is the final judge
of who commits, so a replica that lost its lease while a batch was in flight cannot move the
cursor past what the new holder does."""

from __future__ import annotations

import os
import socket
import uuid

import redis

KEY_PREFIX = "newsdedup-delivery:lease:"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class Lease:
    def __init__(self, client: redis.Redis, sink: str, ttl: float, owner: str | None = None) -> None:
        self._client = client
        self.key = KEY_PREFIX + sink
        self.ttl_ms = int(ttl * 1000)
        # Who holds it, for operators and the takeover test: host, process, and a unique part.
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def acquire_or_renew(self) -> bool:
        """Whether this replica holds the lease now (taken, or renewed)."""
        if self._client.eval(_RENEW, 1, self.key, self.owner, self.ttl_ms):
            return True
        return bool(self._client.set(self.key, self.owner, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        try:
            self._client.eval(_RELEASE, 1, self.key, self.owner)
        except redis.RedisError:
            pass  # it expires by itself


def holder(client: redis.Redis, sink: str) -> str | None:
    value = client.get(KEY_PREFIX + sink)
    return value.decode() if isinstance(value, bytes) else value
