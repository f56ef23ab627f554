"""Recording per-source health where the work happens, in both modes.

The crawling process (either mode) wraps its PageSink in ``HealthSink``: pages fetched, not
modified, refused by robots.txt and failed are counted per source, and the fetch times kept;
``crawl_health`` records each source's crawl start and end around it. Whoever decides a page
(the crawling process in embedded mode, the Celery workers in distributed mode) counts its
outcome with ``count_outcome``. Counts are added up in memory and written in batches
(store/source_health.py): no round trip per page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from newsdedup.crawler.reasons import failure_class
from newsdedup.crawler.sink import PageSink
from newsdedup.fetched.page import Page, Validators
from newsdedup.store.source_health import (
    FETCH_FAILED,
    FETCHED,
    NOT_MODIFIED,
    ROBOTS_DENIED,
    HealthRecorder,
    SourceHealth,
)

if TYPE_CHECKING:  # a type only: the crawl process of distributed mode extracts nothing
    from newsdedup.pipeline.page_pipeline import PageOutcome

log = logging.getLogger(__name__)


def count_outcome(recorder: HealthRecorder, source: str, crawl_id: str, kind: str, reason: str = "") -> None:
    """One page's outcome (created, updated, duplicate, unchanged, rejected, failed)."""
    recorder.count(source, crawl_id, kind, failure_class(reason) if kind == "failed" else "")


class HealthSink:
    """A PageSink that counts what passes through it, per source, then hands it on."""

    def __init__(self, inner: PageSink, recorder: HealthRecorder, crawl_id: str) -> None:
        self.inner = inner
        self.recorder = recorder
        self.crawl_id = crawl_id
        self.time_limited: set[str] = set()  # sources whose crawl was stopped by its time limit

    def __getattr__(self, name: str) -> Any:  # ``backlogged`` and whatever else a sink offers
        return getattr(self.inner, name)

    def validators(self, url: str) -> Validators | None:
        return self.inner.validators(url)

    def validators_many(self, urls: Sequence[str]) -> dict[str, Validators]:
        return self.inner.validators_many(urls)

    def discovery_links(self, url: str) -> list[str] | None:
        return self.inner.discovery_links(url)

    def save_discovery(self, url: str, validators: Validators, links: list[str]) -> None:
        self.inner.save_discovery(url, validators, links)

    def accept(self, page: Page) -> None:
        self.inner.accept(page)  # a refusal raises, and comes back as a failure
        self.recorder.count(page.source, self.crawl_id, FETCHED)

    def not_modified(self, url: str, source: str) -> None:
        self.inner.not_modified(url, source)
        self.recorder.count(source, self.crawl_id, NOT_MODIFIED)

    def skipped(self, url: str, source: str, reason: str) -> None:
        self.inner.skipped(url, source, reason)
        self.recorder.count(source, self.crawl_id, ROBOTS_DENIED)

    def failed(self, url: str, source: str, reason: str) -> None:
        self.inner.failed(url, source, reason)
        self.recorder.count(source, self.crawl_id, FETCH_FAILED, failure_class(reason))
        if reason.startswith("crawl time limit"):
            self.time_limited.add(source)

    def fetch_seconds(self, source: str, seconds: float) -> None:
        """How long a response took to download (crawler/run.py reports each one)."""
        self.recorder.observe("fetch", seconds)


class CrawlHealth:
    """One crawl's recording: ``wrap`` its sink; ``count_outcome`` (embedded mode) its pages."""

    def __init__(self, recorder: HealthRecorder, crawl_id: str) -> None:
        self.recorder = recorder
        self.crawl_id = crawl_id
        self.sinks: list[HealthSink] = []

    def wrap(self, sink: PageSink) -> HealthSink:
        wrapped = HealthSink(sink, self.recorder, self.crawl_id)
        self.sinks.append(wrapped)
        return wrapped

    def count_outcome(self, outcome: PageOutcome) -> None:
        count_outcome(self.recorder, outcome.source, self.crawl_id, outcome.kind, outcome.reason)


@contextmanager
def crawl_health(health: SourceHealth, sources: Sequence[str], crawl_id: str) -> Iterator[CrawlHealth]:
    """Around one crawl of ``sources``: records their start, yields the ``CrawlHealth`` to
    wrap the crawl's sink with, and at the end records how each source's crawl ended and
    writes the counts. Health is never worth a crawl: a store that refuses these writes is
    logged, not raised."""
    recorder = health.recorder().start()
    recording = CrawlHealth(recorder, crawl_id)
    _quietly(lambda: health.crawl_started(sources, crawl_id), "the crawl's start")
    outcome = "finished"
    try:
        yield recording
    except BaseException as exc:
        outcome = f"failed: {type(exc).__name__}: {exc}".rstrip(": ")
        raise
    finally:
        limited = {name for sink in recording.sinks for name in sink.time_limited}
        outcomes = {name: "time limit" if name in limited else outcome for name in sources}
        recorder.close()
        _quietly(lambda: health.crawl_finished(outcomes, crawl_id), "the crawl's end")
        _quietly(health.fold_old_counts, "folding old counts")


def _quietly(call: Callable[[], object], what: str) -> None:
    try:
        call()
    except Exception as exc:  # noqa: BLE001
        log.warning("source health: could not record %s: %s", what, exc)
