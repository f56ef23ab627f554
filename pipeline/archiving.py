"""The archive as a crawl uses it: opened from settings, closed (and pruned) after the crawl."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from newsdedup.archive.prune import prune_archive
from newsdedup.archive.writer import WarcArchiveWriter
from newsdedup.config import Settings
from newsdedup.store import Store

log = logging.getLogger(__name__)


@contextmanager
def crawl_archive(settings: Settings) -> Iterator[WarcArchiveWriter | None]:
    """A writer for this crawl process's WARC files, or None when the archive is off.
    Closing it writes whatever is still queued."""
    if not settings.archive:
        yield None
        return
    writer = WarcArchiveWriter(settings.archive_dir, settings.archive_max_file_bytes)
    try:
        yield writer
    finally:
        writer.close()
        log.info(
            "archived %d records (%d built by the extraction processes; %d bytes, %.2f s of CPU) in %s: %s",
            writer.records_written,
            writer.records_prebuilt,
            writer.bytes_written,
            writer.cpu_seconds,
            settings.archive_dir,
            ", ".join(writer.files) or "no file",
        )
        if writer.errors:
            log.warning("%d responses could not be archived (see the log above)", writer.errors)


def response_archive(writer: WarcArchiveWriter | None):  # -> crawler.archive.ResponseArchive | None
    """The spider's side of ``writer`` (imports Scrapy: only in a crawling process)."""
    if writer is None:
        return None
    # deferred: Scrapy, only in a crawling process; ≈ 160 ms of imports elsewhere (bench/import_costs.py)
    from newsdedup.crawler.archive import ResponseArchive

    return ResponseArchive(writer)


def apply_retention(settings: Settings, store: Store) -> None:
    """After a crawl: delete this host's WARC files past ``archive_retention_days`` (0: keep
    all) and forget them in the store. A failure is logged; the crawl's work stands."""
    if not settings.archive or settings.archive_retention_days <= 0:
        return
    try:
        pruned = prune_archive(
            settings.archive_dir, settings.archive_retention_days, forget=store.forget_archive_files
        )
    except Exception:
        log.exception("pruning the archive in %s failed", settings.archive_dir)
        return
    if pruned.files:
        log.info("archive retention: %s", pruned.line())
