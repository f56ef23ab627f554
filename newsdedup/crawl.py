"""Running one crawl for ``newsdedup crawl`` (which the API and the workers also run as a
child process), in either mode: embedded here, distributed by workers/crawl_side.py."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from newsdedup.config import Settings, Source
from newsdedup.crawler.run import run_crawl
from newsdedup.pipeline.archiving import apply_retention, crawl_archive, response_archive
from newsdedup.pipeline.summary import CrawlSummary, SummaryCallback, record_crawl_counts

if TYPE_CHECKING:  # a type only: in distributed mode the crawl process extracts nothing
    from newsdedup.pipeline.page_pipeline import PageOutcome

# With this many extraction processes or more (more than two cores), they build the pages' WARC
# records too: extraction then outpaces the crawling process (about 26 ms a page each, against
# the crawling process's 13), so the records' CPU is better spent there. With fewer, the archive's
# own thread builds them: on two cores both are busy, and a record built in the pool costs about
# 1 ms a page more in all (a second task a page) than one built by the thread (bench/README.md).
RECORDS_IN_POOL_FROM_PROCESSES = 3


def run_crawl_command(
    settings: Settings,
    sources: Sequence[Source],
    crawl_id: str,
    wait: bool = True,
    show_progress: bool = False,
    on_page_outcome: Callable[[PageOutcome], None] | None = None,
) -> CrawlSummary:
    """Crawl ``sources`` once. Embedded: in this process, returns when every page is stored.
    Distributed: spiders hand pages to Celery workers; waits for them unless ``wait`` is False."""
    progress = _print_progress if show_progress else None
    if settings.distributed:
        # deferred: Celery is loaded only in distributed mode (≈ 120 ms of imports, bench/import_costs.py)
        from newsdedup.workers.crawl_side import run_distributed_crawl

        summary = run_distributed_crawl(settings, sources, crawl_id, wait=wait, progress=progress)
    else:
        summary = run_embedded_crawl(
            settings, sources, crawl_id, progress=progress, on_page_outcome=on_page_outcome
        )
    if show_progress:
        sys.stderr.write("\n")
    return summary


def run_embedded_crawl(
    settings: Settings,
    sources: Sequence[Source],
    crawl_id: str,
    progress: SummaryCallback | None = None,
    on_page_outcome: Callable[[PageOutcome], None] | None = None,
) -> CrawlSummary:
    # deferred: the crawl process of distributed mode extracts nothing and skips this code,
    # ≈ 400 ms of imports (bench/import_costs.py)
    from newsdedup.delivery.embedded import deliver_after_crawl
    from newsdedup.pipeline.embedded import EmbeddedSink
    from newsdedup.pipeline.services import embedded_pipeline_and_pool
    from newsdedup.pipeline.source_health import crawl_health
    from newsdedup.store.source_health import SourceHealth

    with embedded_pipeline_and_pool(settings, sources) as (pipeline, pool):
        with (
            crawl_archive(settings) as archive,
            crawl_health(SourceHealth(pipeline.store.engine), [s.name for s in sources], crawl_id) as health,
        ):
            pipeline.observe = health.recorder.observe
            if archive is not None and pool is not None and pool.processes >= RECORDS_IN_POOL_FROM_PROCESSES:
                archive.build_records_with(pool.build_record)
            sink = EmbeddedSink(
                pipeline,
                crawl_id,
                on_change=progress,
                on_page_outcome=_both(health.count_outcome, on_page_outcome),
                pool=pool,
                locate=archive.resolve_page if archive is not None else None,
            )
            run_crawl(sources, settings, health.wrap(sink), crawl_id, archive=response_archive(archive))
            sink.drain()
        record_crawl_counts(pipeline.store, sink.summary, fetch_errors=sink.fetch_errors)
        apply_retention(settings, pipeline.store)
        # The sinks of the sources file get what this crawl changed (README, "Delivery").
        deliver_after_crawl(settings, pipeline.store)
        return sink.summary


def _both(
    first: Callable[[PageOutcome], None], second: Callable[[PageOutcome], None] | None
) -> Callable[[PageOutcome], None]:
    if second is None:
        return first

    def both(outcome: PageOutcome) -> None:
        first(outcome)
        second(outcome)

    return both


def _print_progress(summary: CrawlSummary) -> None:
    sys.stderr.write("\r\x1b[K" + summary.line())
    sys.stderr.flush()
