"""Extraction in worker processes for embedded crawls.

Extraction (trafilatura, lxml) is most of a page's CPU time and holds the GIL, so an
embedded crawl that extracts in its own process uses one core however many the machine has.
``ExtractionPool`` runs ``prepare_page`` in a few processes while the crawling process keeps
fetching; ``EmbeddedSink`` commits the results in the order the pages arrived, so decisions are
the same as with extraction in the crawling process.

The processes come from a forkserver that has already imported the extraction code: they
start in milliseconds without inheriting the crawler's threads (Twisted's reactor, Scrapy's
DNS pool), which a plain fork would copy in whatever state their locks were in. As with any
multiprocessing start method but fork, a script that runs a crawl itself (rather than through
``newsdedup crawl``) needs the ``if __name__ == "__main__":`` guard: the processes import it.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from crawler.page import Page
from dedup import DedupParams
from workers.pipeline import PreparedPage, prepare_page

# Beyond a few processes the crawling process (Scrapy, decisions, SQLite writes) is the
# bottleneck; more would only cost memory (about 100 MB each).
MAX_AUTO_PROCESSES = 4
_PRELOAD = ["workers.pipeline", "datasketch"]


def extraction_processes(setting: int, cpu_count: int | None = None) -> int:
    """Processes to extract in for the ``extract_processes`` setting (0: automatic).
    1 means extract in the crawling process, with no pool at all."""
    if setting > 0:
        return setting
    cpus = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, min(cpus, MAX_AUTO_PROCESSES))


@dataclass
class PendingExtraction:
    page: Page
    future: Future[PreparedPage]
    generation: int          # of the pool that holds it (see ExtractionPool.restart)


class ExtractionPool:
    """``prepare_page`` in ``processes`` worker processes; started on first use."""

    def __init__(
        self,
        processes: int,
        min_words: int,
        params: DedupParams,
        prepare: Callable[[Page, int, DedupParams], PreparedPage] = prepare_page,
    ) -> None:
        """``prepare`` must be a module-level function (it is sent to the processes by name)."""
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.processes = processes
        self.min_words = min_words
        self.params = params
        self.prepare = prepare
        # How many pages may wait for extraction before the crawl waits for the oldest.
        self.max_pending = 2 * processes + 2
        self.generation = 0
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the processes now (the forkserver imports the extraction code, about a
        second), so that this overlaps the crawler's own start-up instead of the first page."""
        executor = self._started()
        for _ in range(self.processes):
            executor.submit(os.getpid)

    def submit(self, page: Page) -> PendingExtraction:
        return PendingExtraction(page, self._started().submit(self.prepare, page, self.min_words, self.params), self.generation)

    def restart(self, generation: int) -> None:
        """Replace the executor after a worker process died (its futures all fail with
        BrokenProcessPool); a no-op if that executor was replaced already."""
        if generation != self.generation:
            return
        self.generation += 1
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _started(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._executor = ProcessPoolExecutor(self.processes, mp_context=context)
        return self._executor
