"""Retention: deleting the archive's WARC files once they are older than a number of days.

A file's age is that of its last write (its mtime), so a file still being written is never
old. Only this archive's own files (``newsdedup-*.warc.gz``) are touched, never WARC files
that were imported from elsewhere. The store is told first (``forget``), so versions whose
page is gone say so instead of pointing at a missing file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsdedup.archive.reader import archive_files

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0


@dataclass
class Pruned:
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    versions: int = 0  # versions whose archived page went with the files

    def line(self, dry_run: bool = False) -> str:
        verb = "would delete" if dry_run else "deleted"
        return (
            f"{verb} {len(self.files)} WARC files ({self.bytes / 1e6:.1f} MB); "
            f"{self.versions} versions {'would lose' if dry_run else 'lost'} their archived page"
        )


def expired_files(directory: Path, older_than_days: float, now: float | None = None) -> list[Path]:
    cutoff = (time.time() if now is None else now) - older_than_days * SECONDS_PER_DAY
    return [path for path in archive_files(directory) if path.stat().st_mtime < cutoff]


def prune_archive(
    directory: Path,
    older_than_days: float,
    forget: Callable[[Sequence[str]], int] | None = None,
    dry_run: bool = False,
    count: Callable[[Sequence[str]], int] | None = None,
) -> Pruned:
    """Delete the files of ``directory`` last written more than ``older_than_days`` ago.
    ``forget(names)`` clears the store's references to them and returns how many versions
    had one; with ``dry_run`` nothing changes and ``count(names)`` tells that number."""
    expired = expired_files(Path(directory), older_than_days)
    pruned = Pruned(files=[p.name for p in expired], bytes=sum(p.stat().st_size for p in expired))
    if not expired:
        return pruned
    if dry_run:
        pruned.versions = count(pruned.files) if count else 0
        return pruned
    if forget is not None:
        pruned.versions = forget(pruned.files)
    for path in expired:
        try:
            path.unlink()
        except FileNotFoundError:  # another prune got there first
            pass
        log.info("pruned %s", path.name)
    return pruned
