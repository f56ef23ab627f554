"""Embedded mode: the crawler's pages go through the pipeline in the crawling process."""
from __future__ import annotations

import logging
from collections.abc import Callable

from crawler.page import Page
from store import Store
from workers.handoff import StoreBackedDiscovery
from workers.pipeline import PageOutcome, PagePipeline
from workers.summary import CrawlSummary

log = logging.getLogger(__name__)


class EmbeddedSink(StoreBackedDiscovery):
    """A PageSink that processes each page at once and counts what happened."""

    def __init__(
        self,
        pipeline: PagePipeline,
        crawl_id: str,
        on_change: Callable[[CrawlSummary], None] | None = None,
        on_outcome: Callable[[PageOutcome], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.store: Store = pipeline.store
        self.crawl_id = crawl_id
        self.summary = CrawlSummary()
        self.fetch_errors = 0
        self.on_change = on_change
        self.on_outcome = on_outcome

    def accept(self, page: Page) -> None:
        self.summary.pages_fetched += 1
        try:
            outcome = self.pipeline.process(page)
        except Exception as exc:  # noqa: BLE001 - one bad page must not end the crawl
            log.exception("failed to process %s", page.url)
            reason = f"{type(exc).__name__}: {exc}"
            self._record_failure(page.url, page.source, "process", reason)
            outcome = PageOutcome(page.url, page.source, "failed", reason=reason)
        self.summary.count_outcome(outcome.kind)
        if self.on_outcome:
            self.on_outcome(outcome)
        self._changed()

    def not_modified(self, url: str, source: str) -> None:
        self.summary.not_modified += 1
        self._changed()

    def skipped(self, url: str, source: str, reason: str) -> None:
        log.info("skipped %s: %s", url, reason)

    def failed(self, url: str, source: str, reason: str) -> None:
        log.warning("failed %s: %s", url, reason)
        self.summary.errors += 1
        self.fetch_errors += 1
        self._record_failure(url, source, "fetch", reason)
        self._changed()

    def _record_failure(self, url: str, source: str, stage: str, reason: str) -> None:
        try:
            self.store.record_failure(url, source, self.crawl_id, stage, reason)
        except Exception:  # noqa: BLE001 - the failure is already logged above
            log.exception("could not record the failure of %s", url)

    def _changed(self) -> None:
        if self.on_change:
            self.on_change(self.summary)
