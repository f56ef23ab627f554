"""Building the pipeline's parts from settings. The one place that wires them together."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from newsdedup.config import Settings, Source
from newsdedup.config.sources import page_rules_by_source
from newsdedup.dedup import DedupParams, InMemoryIndex
from newsdedup.dedup.stories import StoryParams
from newsdedup.extract.language_id import use_cache
from newsdedup.pipeline.extraction_pool import ExtractionPool
from newsdedup.pipeline.forkserver import extraction_processes
from newsdedup.pipeline.page_pipeline import PagePipeline, prepare_page, prepare_page_with_story_terms
from newsdedup.store import Store


def dedup_params(settings: Settings) -> DedupParams:
    return DedupParams(
        num_perm=settings.num_perm,
        shingle_size=settings.shingle_size,
        lsh_threshold=settings.lsh_threshold,
        duplicate_jaccard=settings.duplicate_jaccard,
        duplicate_containment=settings.duplicate_containment,
        version_jaccard=settings.version_jaccard,
        version_containment=settings.version_containment,
    )


def story_params(settings: Settings) -> StoryParams | None:
    """How stories are made; None when they are switched off (NEWSDEDUP_STORIES=0)."""
    if not settings.stories:
        return None
    return StoryParams(
        threshold=settings.story_threshold,
        merge_threshold=settings.story_merge_threshold,
        window_days=settings.story_window_days,
        time_scale_days=settings.story_window_days,
    )


def open_store(settings: Settings) -> Store:
    return Store.open(settings.database_url)


def open_embedded_pipeline(
    settings: Settings, store: Store | None = None, sources: Sequence[Source] | None = None
) -> PagePipeline:
    """An in-memory index rebuilt from the signatures in the store, so a new process still
    finds duplicates and updates of what earlier crawls stored. ``sources``: the crawl's, read
    already (their extraction rules); None: every source of the sources file."""
    store = store or open_store(settings)
    use_cache(settings.cache_path)  # for pages extracted in this process
    params = dedup_params(settings)
    index = InMemoryIndex(params)
    for key, stored_fingerprint in store.index_entries():
        index.add(key, stored_fingerprint)
    return PagePipeline(
        store,
        index,
        params,
        settings.min_text_words,
        page_time_limit=settings.page_time_limit,
        max_text_chars=settings.max_text_chars,
        page_rules=(
            page_rules_by_source(settings.config)
            if sources is None
            else {source.name: source.page_rules for source in sources}
        ),
        story_params=story_params(settings),
        hold_below_words=settings.hold_below_words,
    )


def open_extraction_pool(settings: Settings) -> ExtractionPool | None:
    """The processes that extract pages with the settings' time limit and text cap
    (``NEWSDEDUP_EXTRACT_PROCESSES``), as ``open_embedded_pipeline``'s pipeline would; None when
    extraction stays in this process. Not started. Needs no store: a crawl starts it first, so
    that the forkserver's imports overlap the store's opening (bench/throughput.py)."""
    processes = extraction_processes(settings.extract_processes)
    if processes <= 1:
        return None
    return ExtractionPool(
        processes,
        settings.min_text_words,
        dedup_params(settings),
        # With stories on, the story terms of a page are computed in the pool too.
        prepare=prepare_page if story_params(settings) is None else prepare_page_with_story_terms,
        time_limit=settings.page_time_limit,
        max_text_chars=settings.max_text_chars,
    )


@contextmanager
def embedded_pipeline_and_pool(
    settings: Settings, sources: Sequence[Source] | None = None
) -> Iterator[tuple[PagePipeline, ExtractionPool | None]]:
    """``open_embedded_pipeline`` and its ``open_extraction_pool`` (started), both closed on
    exit. The pool starts first: its forkserver imports and warms up the extraction code (≈ 1.5 s
    of CPU, pipeline/preload.py) on the other core while this process opens the store."""
    pool = open_extraction_pool(settings)
    if pool is not None:
        pool.start()
    pipeline: PagePipeline | None = None
    try:
        pipeline = open_embedded_pipeline(settings, sources=sources)
        yield pipeline, pool
    finally:
        if pool is not None:
            pool.close()
        if pipeline is not None:
            pipeline.store.close()
