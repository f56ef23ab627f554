"""Redis keys and locks of distributed mode, in one place.

Everything of ours lives in the same Redis database as Celery's broker keys (the
``newsdedup.*`` queues, ``unacked``, ``unacked_index``, ``_kombu.*``) and the LSH index of
dedup.RedisIndex (``<lsh_basename>:...``), under the ``newsdedup-workers:`` prefix, which
neither uses. One database keeps one URL to configure; a separate database
number would not protect anything from eviction (``maxmemory`` is per server), which is why
the server must run with ``maxmemory-policy noeviction`` (deploy/redis.conf).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import redis
from redis.backoff import ExponentialBackoff
from redis.lock import Lock
from redis.retry import Retry

PREFIX = "newsdedup-workers:"
DEDUP_LOCK_KEY = PREFIX + "lock:dedup"
SCHEDULE_LOCK_KEY = PREFIX + "lock:schedule-tick"
LAST_START_KEY = PREFIX + "schedule:last-start"   # hash: source name -> ISO time of last start


def crawl_lock_key(source: str) -> str:
    return f"{PREFIX}lock:crawl:{source}"


def redis_client(url: str) -> redis.Redis:
    """A client with timeouts: a Redis that vanishes must raise (and be retried), not hang.

    redis-py's own retries are kept short (about a quarter of a second in all): the caller
    rides out an outage itself (workers/transient.py), and a call that kept retrying inside
    the client could outlive the decision lock it runs under."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30,
                                retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 2))


# How often a worker waiting for the decision lock tries again. The lock is held for a few
# milliseconds per page; redis-py's default (0.1 s) made two workers wait for each other far
# longer than the work itself (two workers, 258 pages: 10.9 → 9.9 s, bench/README.md).
DEDUP_LOCK_POLL_SECONDS = 0.002


def dedup_lock_factory(client: redis.Redis, timeout: float) -> Callable[[], AbstractContextManager[object]]:
    """The decision lock of PagePipeline: decide-and-insert runs under it on every worker.

    ``timeout`` bounds how long a dead holder blocks the others; a living one waits as long
    for its turn (``blocking_timeout``) and then raises ``redis.exceptions.LockError``, which
    the task retries. ``thread_local=False``: the lock is taken and released in one call.

    A release that fails because Redis went away leaves the lock taken until it expires,
    blocking every worker that long after Redis is back. The token of such a lock is kept,
    and the next time this process takes the lock it first releases that one (if it is
    still ours), so the cluster goes on as soon as the holder's retry comes.
    """
    orphans: list[bytes] = []

    def release_orphans() -> None:
        while orphans:
            token = orphans[-1]
            try:
                client.lock(DEDUP_LOCK_KEY).do_release(token)
            except redis.exceptions.LockNotOwnedError:
                pass   # expired meanwhile, and perhaps someone else's now
            orphans.pop()

    @contextmanager
    def held() -> Iterator[Lock]:
        release_orphans()
        lock = client.lock(DEDUP_LOCK_KEY, timeout=timeout, blocking_timeout=timeout,
                           sleep=DEDUP_LOCK_POLL_SECONDS, thread_local=False)
        if not lock.acquire():
            raise redis.exceptions.LockError(f"the decision lock stayed taken for {timeout:g}s")
        token = lock.local.token
        try:
            yield lock
        finally:
            try:
                lock.release()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                if token is not None:
                    orphans.append(token)
                raise

    return held


def crawl_lock(client: redis.Redis, source: str, timeout: float) -> Lock:
    """One crawl of a source at a time. Taken without waiting; expires with a dead holder."""
    return client.lock(crawl_lock_key(source), timeout=timeout, blocking=False, thread_local=False)
