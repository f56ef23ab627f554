"""Per-sink delivery series for /metrics, read from the store at each scrape (as the
per-source ones are): every API process reports the same truth, whichever process delivers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsdedup.config import Sink
from newsdedup.delivery.outcomes import FAILURE_CLASSES
from newsdedup.delivery.status import sink_statuses
from newsdedup.store import Store

log = logging.getLogger("newsdedup.api.metrics")
PREFIX = "newsdedup_sink_"


class SinkCollector(Collector):
    def __init__(self, store: Store, sinks: Callable[[], Sequence[Sink]]) -> None:
        self._store = store
        self._sinks = sinks

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            items = sink_statuses(self._store, self._sinks())
        except Exception as exc:  # noqa: BLE001 - a scrape reports what it can (store_up says the rest)
            log.warning("metrics: sink states unavailable: %s", exc)
            return
        lag_seqs = GaugeMetricFamily(PREFIX + "lag_seqs", "Feed seqs the sink is behind", labels=["sink"])
        lag_seconds = GaugeMetricFamily(
            PREFIX + "lag_seconds",
            "Age of the oldest feed change the sink has not confirmed (0: caught up)",
            labels=["sink"],
        )
        delivered = CounterMetricFamily(
            PREFIX + "delivered", "Feed records the sink confirmed", labels=["sink"]
        )
        failures = CounterMetricFamily(
            PREFIX + "failures", "Delivery attempts that failed, by class", labels=["sink", "class"]
        )
        dead = GaugeMetricFamily(
            PREFIX + "dead_letters", "Records the sink refused for good", labels=["sink"]
        )
        success = GaugeMetricFamily(
            PREFIX + "last_success_timestamp_seconds", "When the sink last confirmed a batch", labels=["sink"]
        )
        for item in items:
            name = item["sink"]
            lag_seqs.add_metric([name], item["lag_seqs"])
            lag_seconds.add_metric([name], item["lag_seconds"])
            delivered.add_metric([name], item["delivered"])
            dead.add_metric([name], item["dead_letters"])
            counts = {**dict.fromkeys(FAILURE_CLASSES, 0), **item["failures"]}
            for failure_class, count in sorted(counts.items()):
                failures.add_metric([name, failure_class], count)
            if item["last_success_at"]:
                success.add_metric([name], datetime.fromisoformat(item["last_success_at"]).timestamp())
        yield from (lag_seqs, lag_seconds, delivered, failures, dead, success)
