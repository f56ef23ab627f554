"""The crawling side of distributed mode: stage pages, send tasks, wait, re-send lost ones.

A page's trip: the spider calls ``DistributedSink.accept`` → a thread of its own writes the
page to the staging table (store/staging.py, several pages per transaction when they come
fast; workers/staging_writer.py) and commits → only then is ``newsdedup.process_page``
sent with ``(page_id, url)`` → a worker processes it (workers/pages.py) and marks the row done
or failed. Whoever waits for the crawl counts the rows; a pending row whose message is lost
(its worker was SIGKILLed, or the send itself failed) is sent again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta

from celery import Celery

from config import Settings, Source, load_sources
from config.sources import ConfigError
from crawler.page import Page
from store import Store
from store.staging import CrawlCounts, Staging
from workers.app import PAGES_QUEUE, NewsdedupCelery, create_app
from workers.handoff import StoreBackedDiscovery
from workers.staging_writer import StagingWriter
from workers.summary import CrawlSummary, record_crawl_counts
from workers.transient import OUTAGE_ERRORS, through_outages

log = logging.getLogger(__name__)

ProgressCallback = Callable[[CrawlSummary], None]

# A page sent this long ago and still unclaimed while the pages queue is empty has lost its
# message (it was reserved by a worker that died); with an empty queue nothing else can be
# holding it but a worker that is about to claim it, which takes milliseconds.
UNCLAIMED_GRACE_SECONDS = 15.0
RESEND_EVERY_SECONDS = 2.0
POLL_SECONDS = 0.1
# How often the progress line's outcome counts are read while the spiders still run.
COUNTS_EVERY_SECONDS = 1.0
# Staging rows are kept this long after they finished (failed ones for operators to see).
KEEP_DONE = timedelta(days=2)
KEEP_FAILED = timedelta(days=30)


class PageSender:
    """Sends ``newsdedup.process_page`` by name (no task code needed in the crawling process)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def send_many(self, pages: list[tuple[int, str]]) -> list[int]:
        """One task per ``(page_id, url)`` over one broker connection; returns the ids sent,
        in order, up to the first failure (logged: the rest stay unsent, to be re-sent)."""
        sent: list[int] = []
        try:
            with self.app.producer_or_acquire() as producer:
                for page_id, url in pages:
                    self.app.send_task("newsdedup.process_page", args=[page_id, url], producer=producer)
                    sent.append(page_id)
        except Exception as exc:  # noqa: BLE001 - Redis down: the pages stay pending, unsent
            log.warning("could not send page %s: %s", pages[len(sent)][0], exc)
        return sent

    def queue_length(self) -> int | None:
        """Messages waiting in the pages queue (all priority lists); None if Redis is down."""
        try:
            with self.app.connection_for_read() as conn:
                # Not passive: a passive declare fails before any worker has bound the queue.
                return int(conn.default_channel.queue_declare(PAGES_QUEUE).message_count)
        except Exception:
            log.debug("could not read the length of %s", PAGES_QUEUE, exc_info=True)
            return None


def resend_stale(
    staging: Staging,
    sender: PageSender,
    crawl_id: str | None,
    unclaimed_grace: float = UNCLAIMED_GRACE_SECONDS,
) -> int:
    """Send again the pending pages of ``crawl_id`` (all crawls when None) whose message may be
    lost. Safe to over-send: a page processed already makes its task a no-op."""
    queue_empty = sender.queue_length() == 0
    stale = staging.stale(crawl_id, unclaimed_grace if queue_empty else None)
    sent = sender.send_many(stale) if stale else []  # Redis down: the next round tries again
    staging.mark_sent(sent)
    if sent:
        log.warning("re-sent %d pending pages whose message was lost or never sent", len(sent))
    return len(sent)


class DistributedSink(StoreBackedDiscovery):
    """A PageSink that stages each page and sends its task (in a thread of its own,
    workers/staging_writer.py); counts the fetch side. ``close`` once the crawl is over."""

    def __init__(
        self,
        store: Store,
        staging: Staging,
        sender: PageSender,
        crawl_id: str,
        on_change: ProgressCallback | None = None,
        locate: Callable[[Page], Page] | None = None,
    ) -> None:
        self.store = store
        self.staging = staging
        self.sender = sender
        self.crawl_id = crawl_id
        self.fetched = CrawlSummary()  # pages_fetched, not_modified, errors (fetch side)
        self.on_change = on_change
        self._counts: CrawlCounts | None = None
        self._counts_at = 0.0
        self._lock = threading.Lock()  # the spider's thread and the writer's count
        self.writer = StagingWriter(
            staging,
            sender,
            on_staged=self._staged,
            on_failed=lambda page, reason: self.failed(page.url, page.source, reason),
            prepare=locate,
        )  # the archive's resolve_page (workers/archiving.py)

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
            self.store.record_failure(url, source, self.crawl_id, "fetch", reason)
        except Exception:
            log.exception("could not record the failure of %s", url)
        self._changed()

    # --- counting ---

    def summary(self, counts: CrawlCounts | None = None) -> CrawlSummary:
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


def combine(fetched: CrawlSummary, counts: CrawlCounts | None) -> CrawlSummary:
    summary = CrawlSummary(
        pages_fetched=fetched.pages_fetched, not_modified=fetched.not_modified, errors=fetched.errors
    )
    if counts is None:
        return summary
    summary.created = counts.outcomes.get("created", 0)
    summary.updated = counts.outcomes.get("updated", 0)
    summary.duplicates = counts.outcomes.get("duplicate", 0)
    summary.unchanged = counts.outcomes.get("unchanged", 0)
    summary.rejected = counts.outcomes.get("rejected", 0)
    summary.errors += counts.failed + counts.outcomes.get("failed", 0)
    return summary


def wait_for_crawl(
    staging: Staging,
    sender: PageSender,
    crawl_id: str,
    fetched: CrawlSummary,
    progress: ProgressCallback | None = None,
    unclaimed_grace: float = UNCLAIMED_GRACE_SECONDS,
    timeout: float | None = None,
) -> CrawlSummary:
    """Return once every staged page of ``crawl_id`` is done or failed, re-sending the ones
    whose message was lost. ``timeout`` (tests): raise TimeoutError after that many seconds."""
    started = last_change = last_resend = time.monotonic()
    last: CrawlSummary | None = None
    warned = False
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
        summary = combine(fetched, counts)
        now = time.monotonic()
        if summary != last:
            last, last_change, warned = summary, now, False
            if progress:
                progress(summary)
        if counts.pending == 0:
            return summary
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
        time.sleep(POLL_SECONDS)


def run_distributed_crawl(
    settings: Settings,
    sources: Sequence[Source],
    crawl_id: str,
    wait: bool = True,
    progress: ProgressCallback | None = None,
) -> CrawlSummary:
    """Crawl ``sources`` in this process (Scrapy); workers process the pages. With ``wait``,
    return once all of them are done or failed; else at once, with the fetch-side counts."""
    from crawler.run import run_crawl
    from store.source_health import SourceHealth
    from workers.archiving import apply_retention, crawl_archive, response_archive
    from workers.source_health import crawl_health

    app = create_app(settings)
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


def start_crawl(settings: Settings, source_names: Sequence[str], app: Celery | None = None) -> str:
    """Queue one ``newsdedup.crawl_source`` task per source (all when none are named); returns
    the crawl id their pages are staged under. For ``POST /v1/crawls``. Raises ConfigError on
    a bad sources file or an unknown source name."""
    sources = load_sources(settings.config)
    known = {source.name for source in sources}
    names = list(dict.fromkeys(source_names)) or [source.name for source in sources]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"unknown source {unknown[0]!r} (known: {', '.join(sorted(known)) or 'none'})")
    app = app or create_app(settings)
    crawl_id = uuid.uuid4().hex
    for name in names:
        app.send_task("newsdedup.crawl_source", args=[name, crawl_id])
    log.info("crawl %s queued: %s", crawl_id, ", ".join(names))
    return crawl_id


def crawl_status(settings: Settings, crawl_id: str) -> dict[str, object]:
    """Where the pages of a crawl are (for the API or an operator)."""
    staging = Staging.open(settings.database_url, migrate=False)
    try:
        counts = staging.counts(crawl_id)
        return {
            "crawl_id": crawl_id,
            "pending": counts.pending,
            "done": counts.done,
            "failed": counts.failed,
            "outcomes": counts.outcomes,
            "failures": [{"url": u, "reason": r} for u, r in staging.failed_pages(crawl_id)[:100]],
        }
    finally:
        staging.close()


def sweep(settings: Settings, app: NewsdedupCelery) -> int:
    """Beat's safety net for crawls nobody waits for (``--no-wait``, scheduled, API): re-send
    lost pages of every crawl, and forget rows finished long ago."""
    staging = app.services.staging
    sent = resend_stale(staging, PageSender(app), None)
    purged = staging.purge(KEEP_DONE, KEEP_FAILED)
    if purged:
        log.info("purged %d finished staged pages", purged)
    return sent


def rebuild_index(settings: Settings) -> int:
    """``newsdedup rebuild-index``: rebuild the Redis LSH index from the signatures in the
    store (after losing Redis, or a change of num_perm / lsh_threshold). Holds the whole-index
    lock meanwhile, so no worker decides against a half-built index; workers wait, then
    retry. Returns the number of entries."""
    from dedup import RedisIndex
    from workers.index_repair import rebuild_exclusively
    from workers.locks import redis_client
    from workers.services import dedup_params

    assert settings.redis_url, "rebuild_index needs NEWSDEDUP_REDIS_URL"
    client = redis_client(settings.redis_url)
    store = Store.open(settings.database_url)
    try:
        index = RedisIndex(
            client,
            dedup_params(settings),
            settings.lsh_basename,
            window_days=settings.lsh_window_days,
            owner=store.identity(),
        )
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
