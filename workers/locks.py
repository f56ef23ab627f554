"""Redis keys and locks of distributed mode, in one place.

Everything of ours lives in the same Redis database as Celery's broker keys (the
``newsdedup.*`` queues, ``unacked``, ``unacked_index``, ``_kombu.*``) and the LSH index of
dedup.RedisIndex (``<lsh_basename>:...``), under the ``newsdedup-workers:`` prefix, which
neither uses. One database keeps one URL to configure; a separate database
number would not protect anything from eviction (``maxmemory`` is per server), which is why
the server must run with ``maxmemory-policy noeviction`` (deploy/redis.conf).
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import redis
from redis.backoff import ExponentialBackoff
from redis.lock import Lock
from redis.retry import Retry

if TYPE_CHECKING:  # processes that only send tasks (a crawl, beat) import this module too
    from newsdedup.dedup import DedupParams, Fingerprint, PageFacts

log = logging.getLogger(__name__)

PREFIX = "newsdedup-workers:"
# Held by whoever rebuilds the whole index (``newsdedup rebuild-index``, a worker that found the
# index missing): no page takes its story locks meanwhile. (Before 0.2 every page's decision
# ran under this one key.)
REBUILD_LOCK_KEY = PREFIX + "lock:dedup"
STORY_LOCK_PREFIX = PREFIX + "lock:story:"
# Sorted set: the token of every page that holds story locks, scored by when they expire
# (milliseconds, Redis's clock). A rebuild waits until it has no living member.
STORY_HOLDERS_KEY = PREFIX + "lock:story-holders"
SCHEDULE_LOCK_KEY = PREFIX + "lock:schedule-tick"
LAST_START_KEY = PREFIX + "schedule:last-start"  # hash: source name -> ISO time of last start


def crawl_lock_key(source: str) -> str:
    return f"{PREFIX}lock:crawl:{source}"


def redis_client(url: str) -> redis.Redis:
    """A client with timeouts: a Redis that vanishes must raise (and be retried), not hang.

    redis-py's own retries are kept short (about a quarter of a second in all): the caller
    rides out an outage itself (pipeline/transient.py), and a call that kept retrying inside
    the client could outlive the story locks it runs under."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=5,
        socket_timeout=30,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 2),
    )


@cache
def lua_script(name: str) -> str:
    """The Lua source of ``workers/lua/<name>.lua`` (package data), read once."""
    return (resources.files("newsdedup.workers") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


# Waiting for a story lock that another page holds: a few milliseconds (a page holds its
# locks for about that long), growing, jittered so that copies that collided do not collide
# again. Redis-py's default poll (0.1 s) once made two workers wait ten times longer than the
# work itself (bench/README.md).
FIRST_POLL_SECONDS = 0.002
MAX_POLL_SECONDS = 0.05
REBUILD_POLL_SECONDS = 0.1


def story_lock_keys(url: str, canonical_url: str, fp: Fingerprint, params: DedupParams) -> list[str]:
    """What two pages that could be judged the same article share: their URL or canonical URL
    (the store finds an article by both), or a posting of the index (an LSH band, a long
    paragraph: ``dedup.query_postings``, cut to the bytes the index keeps). Sorted."""
    from newsdedup.dedup import query_postings  # here: processes that only send tasks do not load numpy

    keys = {f"{STORY_LOCK_PREFIX}u:{_digest(u)}" for u in (url, canonical_url)}
    keys.update(f"{STORY_LOCK_PREFIX}p:{posting[:6].hex()}" for posting in query_postings(fp, params))
    return sorted(keys)


def _digest(url: str) -> str:
    return hashlib.blake2b(url.encode("utf-8"), digest_size=12).hexdigest()


@dataclass
class LockStats:
    """What a process's story locks cost: the time they were held (the part of a page's work
    that copies of one story do in turn) and the time spent waiting for them."""

    taken: int = 0
    held_seconds: float = 0.0
    waited_seconds: float = 0.0
    conflicts: int = 0


class StoryLocks:
    """The decision locks of distributed mode: one per URL and per index posting of a page,
    taken all at once in one round trip (``story_locks_acquire.lua``), released in one (``story_locks_release.lua``).

    Pages of unrelated stories share no key and decide at the same time; copies of one story
    share a key and decide one after the other (README, "How it works"). ``timeout`` is how
    long the locks live (a dead holder blocks its story that long) and how long a page waits
    for them before ``redis.exceptions.LockError``, which the task retries.

    A release that fails because Redis went away would leave the story blocked until the
    locks expire: their token is kept, and this process releases them before it takes locks
    again, so the story goes on as soon as the holder's retry comes.

    ``one_for_all``: every page takes the same single key: the one cluster-wide lock of
    0.1, kept to measure against (``bench/scaleout.py``).
    """

    def __init__(
        self, client: redis.Redis, timeout: float, params: DedupParams, one_for_all: bool = False
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.params = params
        self.one_for_all = one_for_all
        self.stats = LockStats()
        self._acquire = client.register_script(lua_script("story_locks_acquire"))
        self._release = client.register_script(lua_script("story_locks_release"))
        self._orphans: list[tuple[str, list[str]]] = []

    def keys_for(self, facts: PageFacts, fp: Fingerprint) -> list[str]:
        if self.one_for_all:
            return [STORY_LOCK_PREFIX + "all"]
        return story_lock_keys(facts.url, facts.canonical_url, fp, self.params)

    def __call__(self, facts: PageFacts, fp: Fingerprint) -> AbstractContextManager[object]:
        return self.holding(self.keys_for(facts, fp))

    @contextmanager
    def holding(self, keys: list[str]) -> Iterator[str]:
        self._release_orphans()
        token = secrets.token_hex(12)
        self._take(keys, token)
        taken = time.perf_counter()
        try:
            yield token
        finally:
            self.stats.held_seconds += time.perf_counter() - taken
            try:
                self._release(keys=[STORY_HOLDERS_KEY, *keys], args=[token])
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                self._orphans.append((token, keys))
                raise

    def _take(self, keys: list[str], token: str) -> None:
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        ttl = max(1, int(self.timeout * 1000))
        poll = FIRST_POLL_SECONDS
        while True:
            got = self._acquire(keys=[REBUILD_LOCK_KEY, STORY_HOLDERS_KEY, *keys], args=[token, ttl])
            if got == 1:
                self.stats.taken += 1
                self.stats.waited_seconds += time.perf_counter() - started
                return
            self.stats.conflicts += 1
            if time.monotonic() >= deadline:
                what = "the index is being rebuilt" if got == -1 else "another page of the story holds them"
                raise redis.exceptions.LockError(f"story locks not taken within {self.timeout:g}s: {what}")
            if got == -1:
                time.sleep(REBUILD_POLL_SECONDS)
            else:
                time.sleep(random.uniform(poll / 2, poll * 1.5))
                poll = min(MAX_POLL_SECONDS, poll * 1.5)

    def _release_orphans(self) -> None:
        while self._orphans:
            token, keys = self._orphans[-1]
            self._release(keys=[STORY_HOLDERS_KEY, *keys], args=[token])
            self._orphans.pop()


@contextmanager
def whole_index_lock(client: redis.Redis, timeout: float, wait: float) -> Iterator[Callable[[], None]]:
    """Exclusive use of the index, for rebuilding it: no page takes story locks meanwhile, and
    the pages that held some when it was taken have finished (or their locks expired).

    ``timeout``: the lock's life, renewed by calling the function it yields (between batches);
    ``wait``: how long to wait for another rebuild to end, and then for the pages holding
    story locks. Raises ``LockError`` when either wait is spent.
    """
    lock = client.lock(
        REBUILD_LOCK_KEY, timeout=timeout, blocking_timeout=wait, sleep=0.05, thread_local=False
    )
    if not lock.acquire():
        raise redis.exceptions.LockError(f"the index was being rebuilt by another process for {wait:g}s")
    try:
        living = client.register_script(lua_script("story_lock_holders"))
        # Story locks live at most NEWSDEDUP_DEDUP_LOCK_TIMEOUT: a page that died holding some
        # stops counting by then; the living ones finish within milliseconds.
        renewed = started = time.monotonic()
        while int(living(keys=[STORY_HOLDERS_KEY])):
            if time.monotonic() - started > wait:
                raise redis.exceptions.LockError(f"pages held story locks for more than {wait:g}s")
            time.sleep(FIRST_POLL_SECONDS)
            if time.monotonic() - renewed > timeout / 3:
                lock.reacquire()
                renewed = time.monotonic()

        def renew() -> None:
            lock.reacquire()

        yield renew
    finally:
        try:
            lock.release()
        except redis.exceptions.LockNotOwnedError:
            log.error("the index rebuild outlived its lock (%gs without renewal)", timeout)


def crawl_lock(client: redis.Redis, source: str, timeout: float) -> Lock:
    """One crawl of a source at a time. Taken without waiting; expires with a dead holder."""
    return client.lock(crawl_lock_key(source), timeout=timeout, blocking=False, thread_local=False)
