"""Extraction in worker processes for embedded crawls.

Extraction (trafilatura, lxml) is most of a page's CPU time and holds the GIL, so an
embedded crawl that extracts in its own process uses one core however many the machine has.
``ExtractionPool`` runs ``prepare_page`` in a few processes while the crawling process keeps
fetching; ``EmbeddedSink`` commits the results in the order the pages arrived, so decisions are
the same as with extraction in the crawling process.

Each page has a time budget (``NEWSDEDUP_PAGE_TIME_LIMIT``), counted from the moment a process
starts on it: a page still running then has its process killed and replaced, and fails as
"timed out" (pebble's ``ProcessPool`` does the counting, killing and replacing). A process that
dies on a page (a crash in native code, the OOM killer) fails that page alone; the others go on.

The processes come from a forkserver that has already imported the extraction code: they
start in milliseconds without inheriting the crawler's threads (Twisted's reactor, Scrapy's
DNS pool), which a plain fork would copy in whatever state their locks were in. As with any
multiprocessing start method but fork, a script that runs a crawl itself (rather than through
``newsdedup crawl``) needs the ``if __name__ == "__main__":`` guard: the processes import it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pebble import ProcessPool

from newsdedup.config import logs
from newsdedup.dedup import DedupParams
from newsdedup.extract.rules import PageRules
from newsdedup.fetched.page import Page
from newsdedup.pipeline.forkserver import forkserver_context
from newsdedup.pipeline.page_pipeline import DEFAULT_MAX_TEXT_CHARS, PreparedPage, prepare_page

if TYPE_CHECKING:
    from newsdedup.archive.writer import RecordJob

DEFAULT_PAGE_TIME_LIMIT = 30.0

Prepare = Callable[[Page, int, DedupParams, int, PageRules | None], PreparedPage]


@dataclass
class PendingExtraction:
    page: Page
    future: Future[PreparedPage]  # fails with TimeoutError (budget spent) or ProcessExpired


class ExtractionPool:
    """``prepare_page`` in ``processes`` worker processes; started on first use."""

    def __init__(
        self,
        processes: int,
        min_words: int,
        params: DedupParams,
        prepare: Prepare = prepare_page,
        time_limit: float = DEFAULT_PAGE_TIME_LIMIT,
        max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    ) -> None:
        """``prepare`` must be a module-level function (it is sent to the processes by name)."""
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.processes = processes
        self.min_words = min_words
        self.params = params
        self.prepare = prepare
        self.time_limit = time_limit
        self.max_text_chars = max_text_chars
        # How many pages may wait for extraction before the crawl waits for the oldest.
        self.max_pending = 2 * processes + 2
        self._pool: ProcessPool | None = None
        self._starting: threading.Thread | None = None
        self._start_error: Exception | None = None
        # Between ``start``'s thread and a ``close`` that comes before the processes are up.
        self._start_lock = threading.Lock()
        self._start_done = False
        self._abandoned = False

    def start(self) -> None:
        """Start the processes in the background and return at once; the first use waits for
        them. Starting blocks until the forkserver has imported and warmed up the extraction
        code (≈ 1.4 s): in a thread, that overlaps the crawl's own start-up (the store, Scrapy,
        the first fetches) instead of delaying it (bench/throughput.py)."""
        if self._pool is not None or self._starting is not None:
            return
        inherited = logs.state()
        self._starting = threading.Thread(
            target=self._start_processes, args=(inherited,), name="extraction-pool-start", daemon=True
        )
        self._starting.start()

    def _start_processes(self, inherited: logs.LogState) -> None:
        try:
            pool = self._new_pool(inherited)
            for _ in range(self.processes):
                pool.schedule(os.getpid)
        except Exception as error:  # noqa: BLE001 - raised again by the first use, in the crawl's thread
            self._start_error = error
        with self._start_lock:
            self._start_done = True
            abandoned = self._abandoned
        if abandoned:
            self._stop_pool()

    def _stop_pool(self) -> None:
        if self._pool is not None:
            # stop(), not close(): a page still running when the crawl is over has had its
            # result waited for already (EmbeddedSink.drain) or is being abandoned.
            self._pool.stop()
            self._pool.join()
            self._pool = None

    def ready(self) -> bool:
        """False while ``start``'s processes are still starting (the forkserver's preload):
        a caller that would rather not wait does the work itself meanwhile."""
        return self._starting is None or not self._starting.is_alive()

    def submit(self, page: Page, rules: PageRules | None = None) -> PendingExtraction:
        """``rules``: the page's source's extraction rules (sent with the page)."""
        future = self._started().schedule(
            self.prepare,
            args=(page, self.min_words, self.params, self.max_text_chars, rules),
            timeout=self.time_limit,
        )
        return PendingExtraction(page, future)

    def build_record(self, job: RecordJob) -> Future[bytes] | None:
        """A page's WARC record built and compressed in a process (``WarcArchiveWriter.
        build_records_with``): CPU the crawling process would spend otherwise. None while the
        processes are starting: the archive's thread builds it then, and the crawl (whose
        thread hands records over) does not wait."""
        if not self.ready():
            return None
        # deferred: warcio, only where the archive is on (≈ 100 ms of imports); the processes
        # have it preloaded.
        from newsdedup.archive.writer import record_member

        future: Future[bytes] = self._started().schedule(record_member, args=(job,), timeout=self.time_limit)
        return future

    def close(self) -> None:
        if self._abandoned:
            return  # closed already; ``start``'s thread stops the processes
        if self._starting is not None:
            with self._start_lock:
                self._abandoned = not self._start_done
            if self._abandoned:
                # Never used, and still starting (a crawl of a few pages, all extracted in the
                # crawling process meanwhile): it ends without waiting for the forkserver's
                # preload; ``start``'s thread stops the processes once they are up.
                self._starting = None
                return
            # A start that failed has nothing to close; its error was the first use's to raise.
            self._starting.join()
            self._starting, self._start_error = None, None
        self._stop_pool()

    def _wait_started(self) -> None:
        """Join ``start``'s thread (once), which hands over ``_pool`` or the error it met."""
        if self._starting is None:
            return
        self._starting.join()
        self._starting = None
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            raise error

    def _started(self) -> ProcessPool:
        self._wait_started()
        return self._pool if self._pool is not None else self._new_pool(logs.state())

    def _new_pool(self, inherited: logs.LogState) -> ProcessPool:
        context = forkserver_context()
        # The processes log as this one does (format, level, crawl id): they start from the
        # forkserver, which has no logging configured.
        self._pool = ProcessPool(
            max_workers=self.processes, context=context, initializer=logs.adopt, initargs=(inherited,)
        )
        return self._pool
