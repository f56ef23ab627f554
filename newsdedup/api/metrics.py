"""Prometheus metrics computed from the store (and Redis) when Prometheus scrapes.

A custom Collector on a registry of the app's own: nothing is counted in this process, so
several API processes (or app instances in one test run) report the same truth, and no
global registry state is shared between them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("newsdedup.api.metrics")

PREFIX = "newsdedup_"

# store.feed_reader.stats() key -> (metric name, kind, help). Keys the store may not report yet are
# simply absent from the exposition; unknown numeric keys still appear (see _extra).
KNOWN: dict[str, tuple[str, str, str]] = {
    "pages_fetched": ("pages_fetched", "counter", "Article pages fetched and processed"),
    "not_modified": ("pages_not_modified", "counter", "Article pages that answered 304 Not Modified"),
    "fetch_errors": ("fetch_errors", "counter", "Pages and discovery documents that could not be fetched"),
    "articles": ("articles", "gauge", "Canonical articles in the store"),
    "versions": ("versions", "gauge", "Stored versions (texts) of all articles"),
    "urls": ("urls", "gauge", "URLs fetched for articles"),
    "duplicates": ("duplicates", "counter", "Pages merged into an existing article as a duplicate"),
    "rejections": ("rejections", "counter", "Pages extraction refused (no article text, too short, ...)"),
    "failures": (
        "failures",
        "counter",
        "Pages that could not be used (HTTP errors, timeouts, extraction ...)",
    ),
    "last_seq": ("feed_seq", "gauge", "Highest feed seq handed out"),
}


class StoreCollector(Collector):
    def __init__(
        self,
        stats: Callable[[], Mapping[str, Any]],
        last_seq: Callable[[], int] | None = None,
        queue_depth: Callable[[], Mapping[str, int]] | None = None,
        index_complete: Callable[[], bool] | None = None,
    ) -> None:
        self._stats = stats
        self._last_seq = last_seq
        self._queue_depth = queue_depth
        self._index_complete = index_complete

    def describe(self) -> list[Metric]:
        # Nothing up front: describing would mean querying the store at registration.
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(PREFIX + "store_up", "1 when the store answered this scrape")
        try:
            stats = dict(self._stats())
            if self._last_seq is not None and "last_seq" not in stats:
                stats["last_seq"] = self._last_seq()
        except Exception as exc:  # noqa: BLE001 - a scrape reports the outage instead of failing
            log.warning("metrics: the store did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            yield from _store_metrics(stats)
        if self._queue_depth is not None:
            yield from self._queues()

    def _queues(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(PREFIX + "redis_up", "1 when Redis answered this scrape")
        depth = GaugeMetricFamily(
            PREFIX + "queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        try:
            assert self._queue_depth is not None
            for queue, length in self._queue_depth().items():
                depth.add_metric([queue], length)
        except Exception as exc:  # noqa: BLE001
            log.warning("metrics: Redis did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield depth
        if self._index_complete is not None:
            try:
                complete = self._index_complete()
            except Exception as exc:  # noqa: BLE001 - the store is away: store_up says so
                log.warning("metrics: could not check the index: %s", exc)
                return
            yield GaugeMetricFamily(
                PREFIX + "index_complete",
                "1 when the Redis index was built for this store; 0: missing, workers rebuild it",
                value=1.0 if complete else 0.0,
            )


def _store_metrics(stats: dict[str, Any]) -> Iterator[Metric]:
    for key, (name, kind, help_text) in KNOWN.items():
        if key in stats:
            yield _metric(name, kind, help_text, stats[key])
    by_relation = {k[len("urls_") :]: v for k, v in stats.items() if k.startswith("urls_")}
    if by_relation:
        urls = GaugeMetricFamily(
            PREFIX + "urls_by_relation", "Article URLs by how they relate to the article", labels=["relation"]
        )
        for relation, value in sorted(by_relation.items()):
            urls.add_metric([relation], float(value))
        yield urls
    yield from _extra(stats)


def _extra(stats: dict[str, Any]) -> Iterator[Metric]:
    """Numeric stats this module has no name for yet: exposed as gauges rather than lost."""
    for key, value in sorted(stats.items()):
        if (
            key in KNOWN
            or key.startswith("urls_")
            or not isinstance(value, (int, float))
            or isinstance(value, bool)
        ):
            continue
        name = "".join(c if c.isalnum() else "_" for c in key.lower())
        yield _metric(f"store_{name}", "gauge", f"newsdedup.store.feed_reader.stats()['{key}']", value)


def _metric(name: str, kind: str, help_text: str, value: Any) -> Metric:
    family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    return family(PREFIX + name, help_text, value=float(value))


def build_registry(collector: Collector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
