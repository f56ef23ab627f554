"""Per-source series of ``/metrics``, read from the store at each scrape, like the rest.

The ``source`` label takes the names of the sources file only (read at each scrape), so a
store holding the history of thousands of retired sources cannot blow up the series count;
``reason`` is the bounded class of ``crawler.reasons.failure_class``. Histograms come from
the buckets the crawling processes and workers write (store/source_health.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from importlib import metadata
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from newsdedup.config.sources import Source
from newsdedup.source_status import STATES
from newsdedup.store.source_health import BUCKETS, EVENTS, FETCH_FAILED, SourceHealth

log = logging.getLogger("newsdedup.api.metrics")

PREFIX = "newsdedup_"
HISTOGRAMS = {
    "fetch": ("fetch_duration_seconds", "Time to download a response (Scrapy's download latency)"),
    "extraction": ("extraction_duration_seconds", "Time to extract and fingerprint a fetched page"),
    "decision": (
        "decision_duration_seconds",
        "Time to decide on a page and store it (candidates, decision, write)",
    ),
}


def version() -> str:
    try:
        return metadata.version("newsdedup")
    except metadata.PackageNotFoundError:
        return "unknown"


class SourceCollector(Collector):
    def __init__(
        self,
        health: SourceHealth,
        sources: Callable[[], Sequence[Source]],
        statuses: Callable[[SourceHealth, Sequence[Source]], list[dict[str, Any]]],
    ) -> None:
        self._health = health
        self._sources = sources
        self._statuses = statuses

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield _build_info()
        try:
            sources = list(self._sources())
        except Exception as exc:  # noqa: BLE001 - the sources file broke: no per-source series
            log.warning("metrics: the sources file is not usable: %s", exc)
            sources = []
        try:
            yield from self._per_source(sources)
            yield from self._histograms()
        except Exception as exc:  # noqa: BLE001 - store_up reports the outage
            log.warning("metrics: could not read source health: %s", exc)

    def _per_source(self, sources: Sequence[Source]) -> Iterator[Metric]:
        names = {source.name for source in sources}
        pages = CounterMetricFamily(
            PREFIX + "source_pages",
            "Pages of a source by what became of them (fetched, not_modified, robots_denied, "
            "created, updated, duplicate, unchanged, rejected, failed)",
            labels=["source", "outcome"],
        )
        failures = CounterMetricFamily(
            PREFIX + "source_failures",
            "Failed pages and discovery documents of a source, by class of reason",
            labels=["source", "reason"],
        )
        totals = self._health.total_tallies()
        for name in sorted(names):
            tally = totals.get(name, Counter())
            by_event = {event: 0 for event in EVENTS if event != FETCH_FAILED}
            by_reason: dict[str, int] = {}
            for (event, reason), n in tally.items():
                if event in (FETCH_FAILED, "failed"):
                    by_reason[reason or "other"] = by_reason.get(reason or "other", 0) + n
                if event != FETCH_FAILED:
                    by_event[event] = by_event.get(event, 0) + n
            by_event["failed"] = sum(by_reason.values())
            for event, n in by_event.items():
                pages.add_metric([name, event], float(n))
            for reason, n in sorted(by_reason.items()):
                failures.add_metric([name, reason], float(n))
        yield pages
        yield failures
        state = GaugeMetricFamily(
            PREFIX + "source_state", "1 for the current health state of a source", labels=["source", "state"]
        )
        last_success = GaugeMetricFamily(
            PREFIX + "source_last_success_timestamp_seconds",
            "When a page of the source was last stored or confirmed unchanged (304 or same text)",
            labels=["source"],
        )
        last_crawl = GaugeMetricFamily(
            PREFIX + "source_last_crawl_timestamp_seconds",
            "When the last crawl of the source started",
            labels=["source"],
        )
        for item in self._statuses(self._health, sources):
            if item["source"] not in names:
                continue
            for name in STATES:
                state.add_metric([item["source"], name], 1.0 if item["state"] == name else 0.0)
            if item["last_success_at"]:
                last_success.add_metric([item["source"]], _timestamp(item["last_success_at"]))
            if item["last_crawl"]:
                last_crawl.add_metric([item["source"]], _timestamp(item["last_crawl"]["started_at"]))
        yield state
        yield last_success
        yield last_crawl

    def _histograms(self) -> Iterator[Metric]:
        found = self._health.timings()
        for stage, (name, help_text) in HISTOGRAMS.items():
            counts, total = found.get(stage, ([0] * (len(BUCKETS) + 1), 0.0))
            cumulative, buckets = 0, []
            for bound, n in zip([*(f"{b:g}" for b in BUCKETS), "+Inf"], counts):
                cumulative += n
                buckets.append((bound, float(cumulative)))
            yield HistogramMetricFamily(PREFIX + name, help_text, buckets=buckets, sum_value=total)


def _build_info() -> Metric:
    info = GaugeMetricFamily(
        PREFIX + "build_info", "The running newsdedup version, as a label", labels=["version"]
    )
    info.add_metric([version()], 1.0)
    return info


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
