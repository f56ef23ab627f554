"""What the routes share: settings, the store, Redis (distributed mode), the crawl launcher.

Built by ``create_app``'s lifespan, so nothing connects when the module is imported or the
app object is created; routes reach it through the ``context`` dependency.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis
from fastapi import Request

from newsdedup.api.crawls import EmbeddedCrawls
from newsdedup.api.limits import CachedValue, RequestGate
from newsdedup.config import Settings
from newsdedup.dedup.index import built_for

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from newsdedup.delivery.runner import Deliverer
    from newsdedup.store import Store

# kombu.transport.redis: the separator and default priority steps of its per-priority lists.
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
# Seconds a health check or a metrics scrape waits for Redis.
REDIS_TIMEOUT = 2.0


class IndexNotReady(RuntimeError):
    pass


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    owns_store: bool
    queues: tuple[str, ...]
    redis: redis.Redis | None = None
    crawls: EmbeddedCrawls | None = None
    registry: CollectorRegistry | None = None
    # /metrics' exposition, computed at most once per NEWSDEDUP_METRICS_CACHE_SECONDS.
    metrics: CachedValue[bytes] | None = None
    feed_gate: RequestGate = field(default_factory=lambda: RequestGate(4))
    # Embedded mode with sinks: the delivery loop beside the API (delivery/embedded.py).
    deliverer: Deliverer | None = None
    # Health probes run here, each with a deadline (see ops_routes.healthz).
    probes: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="healthz")
    )

    def queue_depth(self) -> Mapping[str, int]:
        assert self.redis is not None
        # Kombu's Redis transport keeps each queue as a list named after it, plus one list
        # per priority step ("<queue>\x06\x16<n>") when tasks are sent with priorities.
        keys = {
            queue: [queue, *(f"{queue}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS[1:])]
            for queue in self.queues
        }
        with self.redis.pipeline(transaction=False) as pipe:
            for names in keys.values():
                for name in names:
                    pipe.llen(name)
            lengths = iter(pipe.execute())
        return {queue: sum(int(next(lengths)) for _ in names) for queue, names in keys.items()}

    def index_complete(self) -> bool:
        """Whether the Redis index was built for this store (its marker, dedup.RedisIndex);
        False after a flush or a new Redis, until a worker (or rebuild-index) rebuilt it."""
        assert self.redis is not None
        if built_for(self.redis, self.settings.lsh_basename) == self.store.identity():
            return True
        # An empty store has nothing to index: a new cluster is whole before its first page.
        return self.store.feed_reader.last_seq() == 0

    def check_index(self) -> None:
        """For /healthz: raise, saying what to expect, when the index is missing."""
        if not self.index_complete():
            raise IndexNotReady(
                "missing (flushed or new Redis): the workers rebuild it from the store "
                "within seconds, or run newsdedup rebuild-index"
            )

    def close(self) -> None:
        if self.deliverer is not None:
            self.deliverer.stop(timeout=30)
        if self.crawls is not None:
            self.crawls.close()
        if self.redis is not None:
            self.redis.close()
        self.probes.shutdown(wait=False, cancel_futures=True)
        if self.owns_store:
            self.store.close()


def open_redis(url: str) -> redis.Redis:
    # from_url connects lazily, on the first command.
    return redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)


def context(request: Request) -> ApiContext:
    return request.app.state.context
