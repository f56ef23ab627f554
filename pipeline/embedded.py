"""Embedded mode: the crawler's pages go through the pipeline in the crawling process."""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Callable

from pebble import ProcessExpired

from newsdedup.fetched.page import Page
from newsdedup.pipeline.budget import TIMED_OUT, PageTimedOut
from newsdedup.pipeline.discovery_state import StoreBackedDiscovery
from newsdedup.pipeline.extraction_pool import ExtractionPool, PendingExtraction
from newsdedup.pipeline.page_pipeline import PageOutcome, PagePipeline, PreparedPage
from newsdedup.pipeline.summary import CrawlSummary, SummaryCallback
from newsdedup.pipeline.transient import through_outages
from newsdedup.store import Store

log = logging.getLogger(__name__)
# How long a page waits for a store that refuses it (locked, away) before it is failed.
STORE_PATIENCE_SECONDS = 120.0


class ExtractionProcessDied(RuntimeError):
    """A page killed the extraction process twice (a crash in native code, memory)."""


class EmbeddedSink(StoreBackedDiscovery):
    """A PageSink that processes each page and counts what happened.

    Without a pool, each page is processed at once. With an ``ExtractionPool``, pages are
    extracted in its processes while the crawl goes on and committed (decided and stored) here,
    in the order they arrived; ``drain()`` commits the last ones after the crawl. The pages that
    arrive while the pool's processes are still starting are processed at once, as without one."""

    def __init__(
        self,
        pipeline: PagePipeline,
        crawl_id: str,
        on_change: SummaryCallback | None = None,
        on_page_outcome: Callable[[PageOutcome], None] | None = None,
        pool: ExtractionPool | None = None,
        locate: Callable[[Page], Page] | None = None,
    ) -> None:
        """``locate``: gives a page the written location of its archived response (the archive
        writer's ``resolve_page``); called just before the page is stored."""
        self.pipeline = pipeline
        self.store: Store = pipeline.store
        self.crawl_id = crawl_id
        self.summary = CrawlSummary()
        self.fetch_errors = 0
        self.on_change = on_change
        self.on_page_outcome = on_page_outcome
        self.pool = pool
        self.locate = locate or (lambda page: page)
        self._pending: deque[PendingExtraction] = deque()
        # A new source's short pages wait (store/held.py): counted when they are released.
        pipeline.on_released = self._released
        self._call_soon: Callable[[Callable[[], None]], None] | None = None

    def use_crawl_thread(self, call_soon: Callable[[Callable[[], None]], None]) -> None:
        """``call_soon(f)``, callable from any thread, runs ``f`` soon on the thread that calls
        ``accept`` (the crawler passes its reactor's ``callFromThread``). With a pool, a page is
        then committed as soon as it and the pages before it are extracted, in time the crawl
        would otherwise spend waiting for downloads, rather than when the next page arrives."""
        self._call_soon = call_soon

    def accept(self, page: Page) -> None:
        self.summary.pages_fetched += 1
        if self.pool is None or (not self._pending and not self.pool.ready()):
            # Without a pool, or while its processes are still starting (their forkserver's
            # preload, 1–2 s of CPU on the other core): extracted here, at once, rather than
            # with the crawl stopped until they are up. Never while pages wait in the pool:
            # pages are committed in the order they arrived.
            self._finish(page, lambda: self._process(page))
            return
        pending = self.pool.submit(page, self.pipeline.rules_for(page))
        self._pending.append(pending)
        call_soon = self._call_soon
        if call_soon is not None:
            # Runs in the pool's result thread: it only asks the crawl's thread to commit.
            pending.future.add_done_callback(lambda _: call_soon(self._commit_extracted_pages))
        # Bounded: past max_pending the crawl waits for the oldest page rather than holding
        # more pages in memory than the processes can take.
        self._commit_ready(wait_for=len(self._pending) - self.pool.max_pending)

    def _process(self, page: Page) -> PageOutcome:
        """``PagePipeline.process``, the archive location asked for after extraction (by then
        the archive's thread has written the record)."""
        return self.pipeline.commit(self.locate(page), self.pipeline.prepare(page))

    def _commit_extracted_pages(self) -> None:
        self._commit_ready(wait_for=0)

    def drain(self) -> None:
        """Commit every page still being extracted, then judge the pages still held (after
        the crawl): one writer, so every held page is this process's to release."""
        self._commit_ready(wait_for=len(self._pending))
        try:
            through_outages(self.pipeline.release_held, "releasing the held pages", STORE_PATIENCE_SECONDS)
        except Exception:
            log.exception("could not release the held pages (they wait for the next crawl)")

    def _released(self, page: Page, outcome: PageOutcome) -> None:
        self.summary.count_outcome(outcome.kind)
        if self.on_page_outcome:
            self.on_page_outcome(outcome)
        self._changed()

    def _commit_ready(self, wait_for: int) -> None:
        """Commit the oldest pages whose extraction is done, waiting for the first ``wait_for``."""
        while self._pending and (wait_for > 0 or self._pending[0].future.done()):
            pending = self._pending.popleft()
            wait_for -= 1
            self._finish(pending.page, functools.partial(self._commit_extracted, pending))

    def _commit_extracted(self, pending: PendingExtraction) -> PageOutcome:
        return self.pipeline.commit(self.locate(pending.page), self._prepared(pending))

    def _prepared(self, pending: PendingExtraction) -> PreparedPage:
        assert self.pool is not None
        try:
            return pending.future.result()
        except TimeoutError:
            # The pool killed the process that held the page past its budget, and replaced it.
            raise PageTimedOut(self.pool.time_limit) from None
        except ProcessExpired:
            # The process died on this page (or was killed from outside; the pool replaced it
            # and the other pages went on): try it once more; if it kills a process again it
            # is the cause, and it is recorded as failed.
            retry = self.pool.submit(pending.page, self.pipeline.rules_for(pending.page))
            try:
                return retry.future.result()
            except TimeoutError:
                raise PageTimedOut(self.pool.time_limit) from None
            except ProcessExpired:
                raise ExtractionProcessDied("the extraction process died on this page, twice") from None

    def _finish(self, page: Page, work: Callable[[], PageOutcome]) -> None:
        try:
            # SQLite answers "database is locked" once its busy timeout is spent (another
            # process writing for that long): the page waits longer rather than fail.
            outcome = through_outages(work, f"storing {page.url}", STORE_PATIENCE_SECONDS)
        except PageTimedOut as exc:
            log.warning("failed %s: %s", page.url, exc)
            self._record_failure(page.url, page.source, "process", TIMED_OUT)
            outcome = PageOutcome(page.url, page.source, "failed", reason=TIMED_OUT)
        except Exception as exc:
            log.exception("failed to process %s", page.url)
            reason = f"{type(exc).__name__}: {exc}"
            self._record_failure(page.url, page.source, "process", reason)
            outcome = PageOutcome(page.url, page.source, "failed", reason=reason)
        if outcome.kind == "held":
            return  # counted once released
        self.summary.count_outcome(outcome.kind)
        if self.on_page_outcome:
            self.on_page_outcome(outcome)
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
            self.store.failure_log.record(url, source, self.crawl_id, stage, reason)
        except Exception:
            log.exception("could not record the failure of %s", url)

    def _changed(self) -> None:
        if self.on_change:
            self.on_change(self.summary)
