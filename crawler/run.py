"""Run one crawl of some sources, in this process, and count what happened.

Scrapy's Twisted reactor cannot be restarted inside one process: call ``run_crawl`` at most
once per process (the CLI runs it as a command, the workers start one process per crawl job,
the tests start a child process per crawl). All the given sources are crawled at the same
time in one ``CrawlerProcess``, one spider per source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess
from twisted.internet import task

from newsdedup.config import Settings, Source
from newsdedup.crawler.addresses import policy_settings
from newsdedup.crawler.settings import scrapy_settings
from newsdedup.crawler.sink import PageSink
from newsdedup.crawler.spider import NewsSpider
from newsdedup.crawler.stats import CrawlProgress, CrawlStats, SourceStats

if TYPE_CHECKING:
    from newsdedup.crawler.archive import ResponseArchive

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[CrawlProgress], None]


def run_crawl(
    sources: Sequence[Source],
    settings: Settings,
    sink: PageSink,
    crawl_id: str,
    progress: ProgressCallback | None = None,
    archive: ResponseArchive | None = None,
) -> CrawlStats:
    """Crawl ``sources`` once; every article page goes to ``sink``. Blocks until done.

    ``progress`` is called from the reactor thread each time a page completes (or an
    article URL is discovered); keep it quick. ``archive``: where the raw responses of the pages
    handed on (and 304 answers) are written, or None. Failed pages never stop the crawl: they go to
    ``sink.failed`` with a reason and are counted in the returned stats.
    """
    names = [source.name for source in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"each source may be crawled once per crawl, got {names}")
    per_source = {source.name: SourceStats() for source in sources}
    if not sources:
        return CrawlStats.total(per_source)

    def on_outcome(source: str, url: str, outcome: str) -> None:
        if progress is None:
            return
        totals = CrawlStats.total(per_source)
        try:
            progress(
                CrawlProgress(
                    source=source,
                    url=url,
                    outcome=outcome,
                    discovered=totals.discovered,
                    done=totals.done,
                    pages_fetched=totals.pages_fetched,
                    not_modified=totals.not_modified,
                    errors=totals.errors,
                )
            )
        except Exception:
            logger.exception("the progress callback failed")

    process = CrawlerProcess({**scrapy_settings(settings), **policy_settings(settings, sources)})
    for source in sources:
        process.crawl(
            NewsSpider,
            source=source,
            sink=sink,
            crawl_id=crawl_id,
            stats=per_source[source.name],
            on_outcome=on_outcome,
            archive=archive,
        )
    fetch_seconds = getattr(sink, "fetch_seconds", None)  # the health histograms (pipeline/source_health.py)
    if fetch_seconds is not None:
        _time_fetches(process, fetch_seconds)
    use_crawl_thread = getattr(sink, "use_crawl_thread", None)  # a sink that works in the background
    if use_crawl_thread is not None:
        from twisted.internet import reactor  # the one CrawlerProcess installed

        use_crawl_thread(reactor.callFromThread)
    backlogged = getattr(sink, "backlogged", None)
    if backlogged is not None:
        _pause_while_backlogged(process, backlogged)
    # Signal handlers can only be installed from the main thread.
    process.start(install_signal_handlers=threading.current_thread() is threading.main_thread())
    return CrawlStats.total(per_source)


def _time_fetches(process: CrawlerProcess, observe: Callable[[str, float], None]) -> None:
    """Tell ``observe`` how long each response took to download (Scrapy's download_latency)."""

    def received(response: object, request: Any, spider: Any) -> None:
        latency = request.meta.get("download_latency")
        if latency is not None:
            observe(spider.name, float(latency))

    for crawler in process.crawlers:
        crawler.signals.connect(received, signal=signals.response_received, weak=False)


# How often the reactor asks the sink whether it is falling behind.
BACKLOG_CHECK_SECONDS = 0.2


def _pause_while_backlogged(process: CrawlerProcess, backlogged: Callable[[], bool]) -> None:
    """Pause every spider's downloads while the sink falls behind (distributed mode: its store
    is away), and resume them once it caught up: backpressure, so that a long outage costs
    time, not memory, and no fetched page is dropped. Downloads in flight still complete."""
    paused = False

    def check() -> None:
        nonlocal paused
        busy = backlogged()
        if busy == paused:
            return
        for crawler in process.crawlers:
            if crawler.engine is not None:
                crawler.engine.pause() if busy else crawler.engine.unpause()
        paused = busy
        logger.warning(
            "downloads %s: the pages fetched %s",
            "paused" if busy else "resumed",
            "wait to be stored" if busy else "are being stored again",
        )

    task.LoopingCall(check).start(BACKLOG_CHECK_SECONDS, now=False)
