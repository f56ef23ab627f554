"""Running archived pages (``newsdedup reprocess``) and foreign WARC files
(``newsdedup import-warc``) through the pipeline, in either mode.

Both read responses with ``archive.reader`` and turn them into the ``Page`` the crawl made of
them (``crawler.archive.page_from``). Embedded mode hands them to the crawl's own
``EmbeddedSink`` (extraction pool, decisions in arrival order); distributed mode stages them and
sends tasks exactly as a crawl does (``DistributedSink``), so the workers do the work.

Reprocessing writes into another store than the live one by default. In distributed mode the
workers learn that store's URL from Redis (``newsdedup-workers:reprocess:<id>``), never from a
task message, and keep its LSH index under a basename of its own, so the live index is not
touched either.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from newsdedup.archive.reader import ArchiveScan, ReadCounts, read_html_responses
from newsdedup.archive.records import ArchivedResponse
from newsdedup.config import Settings
from newsdedup.crawler.archive import page_from
from newsdedup.fetched.page import Page
from newsdedup.pipeline.embedded import EmbeddedSink
from newsdedup.pipeline.services import embedded_pipeline_and_pool
from newsdedup.pipeline.summary import CrawlSummary, SummaryCallback
from newsdedup.store import Store
from newsdedup.store.staging import Staging
from newsdedup.workers.reprocess_targets import STAMP_FORMAT, beside_url, target_name, target_settings

log = logging.getLogger(__name__)

Progress = Callable[[int, CrawlSummary], None]  # (bytes read so far, counts so far)


@dataclass
class RunResult:
    summary: CrawlSummary
    counts: ReadCounts = field(default_factory=ReadCounts)
    database_url: str = ""


def shown_url(url: str) -> str:
    """A database URL fit for a terminal or a log: without its password."""
    return make_url(url).render_as_string(hide_password=True)


# --- where a reprocess writes ---


def default_target(live_url: str, now: datetime | None = None) -> str:
    """A new store beside the live one: ``reprocess-<time>.db`` in the SQLite store's folder,
    or a new PostgreSQL database ``<name>_reprocess_<time>`` on the same server (created here)."""
    stamp = (now or datetime.now(UTC)).strftime(STAMP_FORMAT)
    target = beside_url(live_url, stamp)
    url = make_url(target)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(make_url(live_url), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
        finally:
            engine.dispose()
    return target


# --- pages from WARC records ---


def pages_of(
    responses: Iterable[ArchivedResponse], counts: ReadCounts, crawl_id: str | None
) -> Iterator[Page]:
    for archived in responses:
        page = page_from(archived, crawl_id=crawl_id)
        if isinstance(page, str):
            counts.skip(page.split(":")[0])
            log.info("skipped %s: %s", archived.final_url, page)
            continue
        yield page


# --- embedded mode ---


def _run_embedded(
    settings: Settings, pages: Iterable[Page], crawl_id: str, progress: SummaryCallback | None
) -> CrawlSummary:
    with embedded_pipeline_and_pool(settings) as (pipeline, pool):
        sink = EmbeddedSink(pipeline, crawl_id, on_change=progress, pool=pool)
        original: str | None = None
        for page in pages:
            if original is not None and page.crawl_id != original:
                # Where the original crawl ended, its held pages were judged: so here too.
                sink.drain()
            original = page.crawl_id
            sink.accept(page)
        sink.drain()
        return sink.summary


# --- distributed mode ---


def _run_distributed(
    settings: Settings,
    pages: Iterable[Page],
    crawl_id: str,
    progress: SummaryCallback | None,
    live: Settings,
) -> CrawlSummary:
    """Stage the pages and let the workers process them, as a crawl does, in rounds: a round
    ends where the original crawl changes or a URL comes again (a later fetch of a page must
    be decided after the earlier one, as it was), and the next round starts once the workers
    have finished it. Pages are streamed: one round is never held in memory."""
    # deferred: Celery is loaded only in distributed mode (≈ 270 ms of imports, bench/import_costs.py)
    from newsdedup.workers.app import create_celery_app
    from newsdedup.workers.crawl_side import DistributedSink, wait_for_crawl
    from newsdedup.workers.index_repair import rebuild_index
    from newsdedup.workers.sending import PageSender  # with the above: Celery only in distributed mode

    assert settings.redis_url
    app = create_celery_app(live)
    target = None
    if settings.database_url != live.database_url:
        # A name the workers resolve with their own settings: no URL travels through Redis.
        target = target_name(live, settings.database_url)
        rebuild_index(settings)  # the target's own index: emptied, or rebuilt from its store
    store = Store.open(settings.database_url)
    staging = Staging.open(settings.database_url, migrate=False)
    # The live store's task unless the target is another store, whose task names it.
    sender = (
        PageSender(app)
        if target is None
        else PageSender(app, task="newsdedup.reprocess_page", extra_args=(target,))
    )
    done = CrawlSummary()

    def shown(summary: CrawlSummary) -> None:
        if progress is not None:
            progress(_add(done, summary))

    def finish(sink: DistributedSink, round_id: str) -> None:
        nonlocal done
        sink.close()
        done = _add(done, wait_for_crawl(staging, sender, round_id, sink.fetched, shown))

    try:
        sink: DistributedSink | None = None
        round_id, original, rounds = "", None, 0
        urls: set[str] = set()
        for page in pages:
            if sink is not None and (page.url in urls or page.crawl_id != original):
                finish(sink, round_id)
                sink = None
            if sink is None:
                rounds += 1
                round_id, original, urls = f"{crawl_id}-{rounds}", page.crawl_id, set()
                sink = DistributedSink(store, staging, sender, round_id, on_change=shown)
            urls.add(page.url)
            sink.accept(page)
        if sink is not None:
            finish(sink, round_id)
        return done
    finally:
        staging.close()
        store.close()


def _add(one: CrawlSummary, other: CrawlSummary) -> CrawlSummary:
    return CrawlSummary(**{name: value + other.as_dict()[name] for name, value in one.as_dict().items()})


# --- the commands ---


def run_reprocess(
    settings: Settings,
    database_url: str,
    sources: Iterable[str] | None = None,
    since: datetime | None = None,
    progress: Progress | None = None,
    scan: ArchiveScan | None = None,
) -> RunResult:
    """The archive's responses, in fetch order, through extraction and dedup into the store at
    ``database_url`` (migrated first)."""
    target = target_settings(settings, database_url)
    Store.open(database_url).close()  # create or migrate it before anyone writes
    scan = scan or ArchiveScan(
        Path(settings.archive_dir), since=since, sources=frozenset(sources) if sources else None
    )
    result = RunResult(CrawlSummary(), scan.counts, database_url)
    crawl_id = f"reprocess-{uuid.uuid4().hex[:12]}"

    def changed(summary: CrawlSummary) -> None:
        result.summary = summary

    def report(summary: CrawlSummary) -> None:
        changed(summary)
        if progress is not None:
            progress(scan.bytes_done, summary)

    pages = pages_of(scan, scan.counts, crawl_id=None)
    if settings.distributed:
        result.summary = _run_distributed(target, pages, crawl_id, report, settings)
    else:
        result.summary = _run_embedded(target, pages, crawl_id, report)
    return result


def publisher(url: str) -> str:
    """The source an imported page without one is stored under: its host, "www." dropped."""
    return (urlsplit(url).hostname or "").removeprefix("www.")


def run_import(
    settings: Settings, files: Iterable[str], source: str | None, progress: Progress | None = None
) -> RunResult:
    """The HTML responses of WARC files (paths or URLs) through the pipeline into the live
    store, as pages of ``source``; None: of the source a record names, else of its publisher."""
    counts = ReadCounts()
    result = RunResult(CrawlSummary(), counts, settings.database_url)
    crawl_id = f"import-{uuid.uuid4().hex[:12]}"
    read = [0]

    def on_read(n: int) -> None:
        read[0] += n

    def responses() -> Iterator[ArchivedResponse]:
        for file in files:
            for response in read_html_responses(
                file,
                source,
                settings.max_page_bytes,
                counts,
                on_read=on_read,
                allow_private=settings.allow_private_addresses,
            ):
                yield response if response.source else replace(response, source=publisher(response.url))

    def report(summary: CrawlSummary) -> None:
        result.summary = summary
        if progress is not None:
            progress(read[0], summary)

    pages = pages_of(responses(), counts, crawl_id=crawl_id)
    if settings.distributed:
        result.summary = _run_distributed(settings, pages, crawl_id, report, settings)
    else:
        result.summary = _run_embedded(settings, pages, crawl_id, report)
    return result
