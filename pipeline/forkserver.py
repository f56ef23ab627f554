"""The extraction pool's forkserver: what it preloads, how many processes it forks, and starting
it early. A module of its own, importing nothing heavy, so that a command can start the
forkserver before its own imports (newsdedup/cli.py): the forkserver starts importing at once,
on another core, while the command imports Scrapy and opens the store."""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing import forkserver
from multiprocessing.context import ForkServerContext

from newsdedup.config import Settings

# Beyond a few processes the crawling process (Scrapy, decisions, SQLite writes) is the
# bottleneck; more would only cost memory (about 100 MB each).
MAX_AUTO_PROCESSES = 4
# What the forkserver imports once, so that each process it forks has it. "__main__": the
# script that started the crawl (the ``newsdedup`` console script: the CLI's modules, ≈ 0.3 s),
# which each process would otherwise run again as it starts (multiprocessing's spawn and
# forkserver methods do, for a script's ``if __name__ == "__main__"`` guard to hold); a run
# with ``python -m`` or no script has none to import. The archive's record builder too: the
# processes build the pages' WARC records (archive is on by default). In all ≈ 2 s of CPU,
# most of it pipeline/preload.py.
PRELOAD = [
    "__main__",
    "newsdedup.pipeline.page_pipeline",
    "newsdedup.archive.writer",
    "newsdedup.dedup.datasketch_import",
    "newsdedup.pipeline.preload",
]


def extraction_processes(setting: int, cpu_count: int | None = None) -> int:
    """Processes to extract in for the ``extract_processes`` setting (0: automatic).
    1 means extract in the crawling process, with no pool at all."""
    if setting > 0:
        return setting
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, min(cpus, MAX_AUTO_PROCESSES))


def forkserver_context() -> ForkServerContext:
    """The multiprocessing context the pool's processes come from, its preload set."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_forkserver_early(settings: Settings) -> None:
    """Start the forkserver now, when these settings' pages will be extracted in a pool (an
    embedded crawl, reprocess or import): its imports (≈ 2 s of CPU) then overlap the command's
    own instead of following them. The pool uses the same forkserver when it starts."""
    if settings.distributed or extraction_processes(settings.extract_processes) <= 1:
        return
    forkserver_context()
    forkserver.ensure_running()
