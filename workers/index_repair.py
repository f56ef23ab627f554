"""Rebuilding the Redis index from the store, the one source of truth.

The index is a cache of the signatures the store keeps; it is rebuilt when it is found
missing (flushed, a new or restarted Redis without its data, another store's index: see
``dedup.RedisIndex`` and its marker), by the worker that finds it so, by the workers' sweeper,
or by ``newsdedup rebuild-index``. Each holds the whole-index lock for the whole rebuild
(``workers.locks.whole_index_lock``): no page takes its story locks meanwhile, and the pages
that held some have finished, so no decision is made against a half-built index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice
from typing import TYPE_CHECKING

from newsdedup.config import Settings
from newsdedup.dedup import RedisIndex
from newsdedup.pipeline.services import dedup_params
from newsdedup.store import Store
from newsdedup.workers.locks import redis_client, whole_index_lock

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

REBUILD_BATCH = 1000  # index entries per pipelined round trip


def rebuild(
    index: RedisIndex, store: Store, window_days: float, keep_alive: Callable[[], None] = lambda: None
) -> int:
    """Empty ``index`` and fill it with the store's versions of the last ``window_days``, then
    mark it complete. ``keep_alive`` is called between batches (renews the caller's lock).
    Returns the number of entries."""
    started = time.monotonic()
    index.clear()
    since = datetime.now(UTC) - timedelta(days=window_days)
    count = 0
    # Filed by the day they were fetched, so they leave the window when they would have.
    for day, entries in groupby(store.timed_index_entries(since), key=lambda e: e[2].date()):
        added_at = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        pairs = ((key, stored) for key, stored, _ in entries)
        while batch := list(islice(pairs, REBUILD_BATCH)):
            index.add_many(batch, added_at=added_at)
            count += len(batch)
            keep_alive()
    index.mark_complete(count)
    log.warning(
        "rebuilt the Redis index from the store: %d entries in %.1fs", count, time.monotonic() - started
    )
    return count


def rebuild_exclusively(
    client: redis.Redis,
    index: RedisIndex,
    store: Store,
    window_days: float,
    lock_timeout: float,
    wait: float,
    only_if_missing: bool = True,
) -> int | None:
    """``rebuild`` under the whole-index lock; with ``only_if_missing``, nothing (None) when the
    index turns out complete once the lock is held (another process rebuilt it meanwhile)."""
    with whole_index_lock(client, lock_timeout, wait) as keep_alive:
        if only_if_missing and index.is_complete():
            return None
        return rebuild(index, store, window_days, keep_alive)


def store_index(client: redis.Redis, settings: Settings, store: Store) -> RedisIndex:
    """The Redis index of ``store``'s signatures, as ``settings`` lay it out."""
    return RedisIndex(
        client,
        dedup_params(settings),
        settings.lsh_basename,
        window_days=settings.lsh_window_days,
        owner=store.identity(),
    )


def rebuild_index(settings: Settings) -> int:
    """``newsdedup rebuild-index``: rebuild the Redis LSH index from the signatures in the
    store (after losing Redis, or a change of num_perm / lsh_threshold). Holds the whole-index
    lock meanwhile, so no worker decides against a half-built index; workers wait, then
    retry. Returns the number of entries."""
    assert settings.redis_url, "rebuild_index needs NEWSDEDUP_REDIS_URL"
    client = redis_client(settings.redis_url)
    store = Store.open(settings.database_url)
    try:
        index = store_index(client, settings, store)
        # Renewed between batches; long enough for emptying a large index first. A rebuild
        # that dies blocks the workers no longer than that.
        count = rebuild_exclusively(
            client,
            index,
            store,
            settings.lsh_window_days,
            max(settings.dedup_lock_timeout, 300),
            wait=600,
            only_if_missing=False,
        )
        assert count is not None
        return count
    finally:
        store.close()
        client.close()
