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

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from archive.reader import ArchiveScan, ReadCounts, read_html_responses
from archive.records import ArchivedResponse
from config import Settings
from fetched.page import Page
from store import Store
from workers.summary import CrawlSummary

if TYPE_CHECKING:
    from workers.app import NewsdedupCelery
    from workers.pages import WorkerServices

log = logging.getLogger(__name__)

REPROCESS_TARGET_KEY = "newsdedup-workers:reprocess:"
# A target's URL stays known to the workers this long after its reprocess started.
TARGET_TTL_SECONDS = 7 * 86_400

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
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    url = make_url(live_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        folder = Path(database).parent if database and database != ":memory:" else Path("data")
        return url.set(database=str(folder / f"reprocess-{stamp}.db")).render_as_string(hide_password=False)
    name = f"{url.database or 'newsdedup'}_reprocess_{stamp.lower()}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def target_id(database_url: str) -> str:
    return hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]


def target_settings(settings: Settings, database_url: str) -> Settings:
    """The settings a worker uses for a reprocess target: its store, and an LSH index of its
    own (the live index stays the live store's)."""
    if database_url == settings.database_url:
        return settings
    return settings.model_copy(
        update={
            "database_url": database_url,
            "lsh_basename": f"{settings.lsh_basename}-reprocess-{target_id(database_url)}",
        }
    )


# --- pages from WARC records ---


def pages_of(
    responses: Iterable[ArchivedResponse], counts: ReadCounts, crawl_id: str | None
) -> Iterator[Page]:
    from crawler.archive import page_from

    for archived in responses:
        page = page_from(archived, crawl_id=crawl_id)
        if isinstance(page, str):
            counts.skip(page.split(":")[0])
            log.info("skipped %s: %s", archived.final_url, page)
            continue
        yield page


# --- embedded mode ---


def _run_embedded(
    settings: Settings, pages: Iterable[Page], crawl_id: str, progress: Callable[[CrawlSummary], None] | None
) -> CrawlSummary:
    from workers.embedded import EmbeddedSink
    from workers.extraction_pool import ExtractionPool, extraction_processes
    from workers.services import open_embedded_pipeline

    pipeline = open_embedded_pipeline(settings)
    processes = extraction_processes(settings.extract_processes)
    pool = ExtractionPool(processes, pipeline.min_words, pipeline.params) if processes > 1 else None
    try:
        if pool is not None:
            pool.start()
        sink = EmbeddedSink(pipeline, crawl_id, on_change=progress, pool=pool)
        for page in pages:
            sink.accept(page)
        sink.drain()
        return sink.summary
    finally:
        if pool is not None:
            pool.close()
        pipeline.store.close()


# --- distributed mode ---


class ReprocessSender:
    """Sends ``newsdedup.reprocess_page`` for a target store (the PageSender of a crawl sends
    ``newsdedup.process_page``, which always writes to the live store)."""

    def __init__(self, app: NewsdedupCelery, target: str | None) -> None:
        from workers.distributed import PageSender

        self.pages = PageSender(app)
        self.app = app
        self.target = target

    def send_many(self, pages: list[tuple[int, str]]) -> list[int]:
        if self.target is None:
            return self.pages.send_many(pages)
        sent: list[int] = []
        try:
            with self.app.producer_or_acquire() as producer:
                for page_id, url in pages:
                    self.app.send_task(
                        "newsdedup.reprocess_page", args=[page_id, url, self.target], producer=producer
                    )
                    sent.append(page_id)
        except Exception as exc:  # noqa: BLE001 - Redis down: the pages stay pending, unsent
            log.warning("could not send page %s: %s", pages[len(sent)][0], exc)
        return sent

    def queue_length(self) -> int | None:
        return self.pages.queue_length()


def _run_distributed(
    settings: Settings,
    pages: Iterable[Page],
    crawl_id: str,
    progress: Callable[[CrawlSummary], None] | None,
    live: Settings,
) -> CrawlSummary:
    """Stage the pages and let the workers process them, as a crawl does, in rounds: a round
    ends where the original crawl changes or a URL comes again (a later fetch of a page must
    be decided after the earlier one, as it was), and the next round starts once the workers
    have finished it. Pages are streamed: one round is never held in memory."""
    from store.staging import Staging
    from workers.app import create_app
    from workers.distributed import DistributedSink, wait_for_crawl
    from workers.locks import redis_client

    assert settings.redis_url
    app = create_app(live)
    target = None
    if settings.database_url != live.database_url:
        target = target_id(settings.database_url)
        client = redis_client(settings.redis_url)
        try:
            client.set(REPROCESS_TARGET_KEY + target, settings.database_url, ex=TARGET_TTL_SECONDS)
        finally:
            client.close()
        from workers.distributed import rebuild_index

        rebuild_index(settings)  # the target's own index: emptied, or rebuilt from its store
    store = Store.open(settings.database_url)
    staging = Staging.open(settings.database_url, migrate=False)
    sender = ReprocessSender(app, target)
    done = CrawlSummary()

    def shown(summary: CrawlSummary) -> None:
        if progress is not None:
            progress(_add(done, summary))

    def finish(sink: DistributedSink, round_id: str) -> None:
        nonlocal done
        sink.close()
        done = _add(done, wait_for_crawl(staging, sender, round_id, sink.fetched, shown))  # type: ignore[arg-type]

    try:
        sink: DistributedSink | None = None
        round_id, original, urls, rounds = "", None, set(), 0
        for page in pages:
            if sink is not None and (page.url in urls or page.crawl_id != original):
                finish(sink, round_id)
                sink = None
            if sink is None:
                rounds += 1
                round_id, original, urls = f"{crawl_id}-{rounds}", page.crawl_id, set()
                sink = DistributedSink(store, staging, sender, round_id, on_change=shown)  # type: ignore[arg-type]
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


def target_services(app: NewsdedupCelery, target: str) -> WorkerServices:
    """The worker's services for a reprocess target, opened on first use (one per process)."""
    from workers.locks import redis_client
    from workers.pages import WorkerServices

    cache: dict[tuple[int, str], WorkerServices] = app.__dict__.setdefault("_reprocess_services", {})
    key = (os.getpid(), target)
    if key not in cache:
        client = redis_client(app.settings.redis_url or "")
        try:
            url = client.get(REPROCESS_TARGET_KEY + target)
        finally:
            client.close()
        if url is None:
            raise LookupError(f"reprocess target {target} is unknown (its key expired?)")
        cache[key] = WorkerServices.open(target_settings(app.settings, url.decode("utf-8")))
    return cache[key]


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


def run_import(
    settings: Settings, files: Iterable[str], source: str, progress: Progress | None = None
) -> RunResult:
    """The HTML responses of WARC files (paths or URLs) through the pipeline into the live
    store, as pages of ``source``."""
    counts = ReadCounts()
    result = RunResult(CrawlSummary(), counts, settings.database_url)
    crawl_id = f"import-{uuid.uuid4().hex[:12]}"
    read = [0]

    def on_read(n: int) -> None:
        read[0] += n

    def responses() -> Iterator[ArchivedResponse]:
        for file in files:
            yield from read_html_responses(file, source, settings.max_page_bytes, counts, on_read=on_read)

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
