"""Distributed mode in the crawling process: stage pages, send their tasks, wait for the workers.

A page's trip: the spider calls ``DistributedSink.accept`` → a thread of its own writes the
page to the staging table (store/staging.py, several pages per transaction when they come
fast; pipeline/staging_writer.py) and commits → only then is ``newsdedup.process_page``
sent with ``(page_id, url)`` (workers/sending.py) → a worker processes it (workers/pages.py)
and marks the row done or failed. Whoever waits for the crawl counts the rows; a pending row
whose message is lost (its worker was SIGKILLed, or the send itself failed) is sent again.

Runs in the process of ``newsdedup crawl`` (and of ``newsdedup reprocess`` / ``import-warc``):
nothing here runs in a worker. The API's side is workers/api_side.py; the workers' own
sweep for lost pages is workers/sweeper.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from newsdedup.config import Settings, Source
from newsdedup.crawler.run import run_crawl
from newsdedup.fetched.page import Page
from newsdedup.pipeline.archiving import apply_retention, crawl_archive, response_archive
from newsdedup.pipeline.discovery_state import StoreBackedDiscovery
from newsdedup.pipeline.source_health import crawl_health
from newsdedup.pipeline.staging_writer import StagingWriter
from newsdedup.pipeline.summary import OUTCOME_FIELDS, CrawlSummary, SummaryCallback, record_crawl_counts
from newsdedup.pipeline.transient import OUTAGE_ERRORS, through_outages
from newsdedup.store import Store
from newsdedup.store.source_health import SourceHealth
from newsdedup.store.staging import StagedPageCounts, Staging
from newsdedup.workers.app import create_celery_app
from newsdedup.workers.sending import UNCLAIMED_GRACE_SECONDS, PageSender, resend_stale

log = logging.getLogger(__name__)

RESEND_EVERY_SECONDS = 2.0
# A crawl's held pages are asked for again this often while some still wait (a lost message,
# or a release that failed): a release re-extracts its pages, so not as often as a re-send.
RELEASE_EVERY_SECONDS = 30.0
# The wait reads the crawl's counts every POLL_SECONDS near its end (the end is seen that soon)
# and less often while many pages remain: a quarter of the time they should take at the rate
# seen so far, at most MAX_POLL_SECONDS apart.
POLL_SECONDS = 0.1
MAX_POLL_SECONDS = 1.0
# How often the progress line's outcome counts are read while the spiders still run.
COUNTS_EVERY_SECONDS = 1.0


class DistributedSink(StoreBackedDiscovery):
    """A PageSink that stages each page and sends its task (in a thread of its own,
    pipeline/staging_writer.py); counts the fetch side. ``close`` once the crawl is over."""

    def __init__(
        self,
        store: Store,
        staging: Staging,
        sender: PageSender,
        crawl_id: str,
        on_change: SummaryCallback | None = None,
        locate: Callable[[Page], Page] | None = None,
    ) -> None:
        self.store = store
        self.staging = staging
        self.sender = sender
        self.crawl_id = crawl_id
        self.fetched = CrawlSummary()  # pages_fetched, not_modified, errors (fetch side)
        self.on_change = on_change
        self._counts: StagedPageCounts | None = None
        self._counts_at = 0.0
        self._lock = threading.Lock()  # the spider's thread and the writer's count
        self.writer = StagingWriter(
            staging,
            sender,
            on_staged=self._staged,
            on_failed=lambda page, reason: self.failed(page.url, page.source, reason),
            prepare=locate,
        )  # the archive's resolve_page (pipeline/archiving.py)

    def close(self) -> None:
        """Stage and send every page accepted so far; then the fetch-side counts are final."""
        self.writer.close()

    def backlogged(self) -> bool:
        """The crawl pauses its downloads while this is true (PostgreSQL away)."""
        return self.writer.backlogged()

    # --- pages ---

    def accept(self, page: Page) -> None:
        if page.crawl_id != self.crawl_id:
            page = replace(page, crawl_id=self.crawl_id)
        self.writer.submit(page)

    def _staged(self, pages: int) -> None:
        with self._lock:
            self.fetched.pages_fetched += pages
        self._changed()

    def not_modified(self, url: str, source: str) -> None:
        with self._lock:
            self.fetched.not_modified += 1
        try:
            self.store.touch(url)
        except Exception:
            log.debug("could not touch %s", url, exc_info=True)
        self._changed()

    def skipped(self, url: str, source: str, reason: str) -> None:
        log.info("skipped %s: %s", url, reason)

    def failed(self, url: str, source: str, reason: str) -> None:
        log.warning("failed %s: %s", url, reason)
        with self._lock:
            self.fetched.errors += 1
        try:
            self.store.failure_log.record(url, source, self.crawl_id, "fetch", reason)
        except Exception:
            log.exception("could not record the failure of %s", url)
        self._changed()

    # --- counting ---

    def summary(self, counts: StagedPageCounts | None = None) -> CrawlSummary:
        """Fetch-side counts plus what the workers did with the staged pages so far."""
        counts = counts or self._counts
        return combine(self.fetched, counts)

    def _changed(self) -> None:
        if self.on_change is None:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._counts_at >= COUNTS_EVERY_SECONDS:
                self._counts_at = now
                try:
                    self._counts = self.staging.counts(self.crawl_id)
                except Exception:
                    log.debug("could not count staged pages", exc_info=True)
            self.on_change(self.summary())


def combine(fetched: CrawlSummary, counts: StagedPageCounts | None) -> CrawlSummary:
    summary = CrawlSummary(
        pages_fetched=fetched.pages_fetched, not_modified=fetched.not_modified, errors=fetched.errors
    )
    if counts is None:
        return summary
    for kind, pages in counts.outcomes.items():
        if kind in OUTCOME_FIELDS:
            summary.count_outcome(kind, pages)
    summary.errors += counts.failed
    return summary


def wait_for_crawl(
    staging: Staging,
    sender: PageSender,
    crawl_id: str,
    fetched: CrawlSummary,
    progress: SummaryCallback | None = None,
    unclaimed_grace: float = UNCLAIMED_GRACE_SECONDS,
    timeout: float | None = None,
) -> CrawlSummary:
    """Return once every staged page of ``crawl_id`` is done or failed, re-sending the ones
    whose message was lost. ``timeout`` (tests): raise TimeoutError after that many seconds."""
    started = last_change = last_resend = time.monotonic()
    last_release = started - RELEASE_EVERY_SECONDS
    last: CrawlSummary | None = None
    warned = False
    finished_before: int | None = None  # pages done or failed when the wait began
    while True:
        try:
            counts = staging.counts(crawl_id)
        except OUTAGE_ERRORS as exc:
            # PostgreSQL away: the workers wait for it too; so do we, for as long as it takes.
            if not warned:
                log.warning(
                    "crawl %s: cannot read its pages (%s); waiting for the store",
                    crawl_id,
                    type(exc).__name__,
                )
                warned = True
            time.sleep(1.0)
            continue
        if finished_before is None:
            finished_before = counts.done + counts.failed
        summary = combine(fetched, counts)
        now = time.monotonic()
        if summary != last:
            last, last_change, warned = summary, now, False
            if progress:
                progress(summary)
        if counts.pending == 0:
            if not counts.outcomes.get("held"):
                return summary
            # The crawl's other pages are done: its held pages are judged now (store/held.py).
            if now - last_release >= RELEASE_EVERY_SECONDS:
                last_release = now
                sender.send_release(crawl_id)
        if now - last_resend >= RESEND_EVERY_SECONDS:
            last_resend = now
            try:
                resend_stale(staging, sender, crawl_id, unclaimed_grace)
            except OUTAGE_ERRORS as exc:
                log.info("could not look for lost pages now: %s", type(exc).__name__)
        if not warned and now - last_change > 60:
            warned = True
            log.warning(
                "crawl %s: %d pages pending and nothing finished for a minute; "
                "are workers running (newsdedup worker)?",
                crawl_id,
                counts.pending,
            )
        if timeout is not None and now - started > timeout:
            raise TimeoutError(f"crawl {crawl_id}: {counts.pending} pages still pending after {timeout}s")
        time.sleep(
            poll_interval(counts.pending, counts.done + counts.failed - finished_before, now - started)
        )


def poll_interval(pending: int, finished: int, seconds: float) -> float:
    """Seconds until the next look at the counts: ``pending`` pages left, ``finished`` in the
    ``seconds`` waited so far. Each look is a query of every page of the crawl, so a long wait
    looks less often (bench/throughput.py: 10 % of the crawl command's CPU, looking every 0.1 s)."""
    if finished <= 0 or seconds <= 0:
        return POLL_SECONDS
    return min(MAX_POLL_SECONDS, max(POLL_SECONDS, 0.25 * pending * seconds / finished))


def run_distributed_crawl(
    settings: Settings,
    sources: Sequence[Source],
    crawl_id: str,
    wait: bool = True,
    progress: SummaryCallback | None = None,
) -> CrawlSummary:
    """Crawl ``sources`` in this process (Scrapy); workers process the pages. With ``wait``,
    return once all of them are done or failed; else at once, with the fetch-side counts."""
    app = create_celery_app(settings)
    # The store may be away at the start too (a restart): wait for it, however long.
    store = through_outages(lambda: Store.open(settings.database_url), "opening the store")
    staging = Staging.open(settings.database_url, migrate=False)
    sender = PageSender(app)
    try:
        # Pages an earlier crawl staged but never sent (it was killed), or whose worker died:
        # sent now, so that running a crawl again completes the one before it, beat or not.
        try:
            resend_stale(staging, sender, None)
        except OUTAGE_ERRORS as exc:
            log.info("could not look for pages of earlier crawls now: %s", type(exc).__name__)
        # The archive is written here, where the pages are fetched: nothing extra goes through Redis.
        with (
            crawl_archive(settings) as archive,
            crawl_health(SourceHealth(store.engine), [s.name for s in sources], crawl_id) as health,
        ):
            sink = DistributedSink(
                store,
                staging,
                sender,
                crawl_id,
                on_change=progress,
                locate=archive.resolve_page if archive is not None else None,
            )
            try:
                run_crawl(sources, settings, health.wrap(sink), crawl_id, archive=response_archive(archive))
            finally:
                sink.close()
        through_outages(lambda: record_crawl_counts(store, sink.fetched), "recording the crawl's counts")
        apply_retention(settings, store)
        if not wait:
            return sink.summary(through_outages(lambda: staging.counts(crawl_id), "counting the pages"))
        return wait_for_crawl(staging, sender, crawl_id, sink.fetched, progress)
    finally:
        staging.close()
        store.close()
