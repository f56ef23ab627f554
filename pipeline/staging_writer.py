"""Staging pages and sending their tasks in a thread of its own, in batches.

Writing a page to PostgreSQL waits for the commit to reach the disk; done in Scrapy's
reactor thread, that wait stopped every download. Here the spider only queues the page;
one thread takes whatever has queued meanwhile (up to ``BATCH_PAGES``), stages it in one
transaction, sends one task per new page, and marks them sent in one UPDATE. Nothing waits
to fill a batch: a lone page goes at once.

PostgreSQL away (an outage, a restart, a failover): the batch is tried again, with backoff,
until it is staged; nothing fetched is dropped. Meanwhile pages pile up here, and the crawl
pauses its downloads while more than ``PAUSE_AT`` wait (``backlogged``), so memory stays
bounded. A batch that cannot be staged for a reason of its own (one page PostgreSQL refuses)
is staged page by page, so the others go on and the bad one is reported with its reason. A
page whose send fails (Redis away) stays pending, unsent: whoever waits for the crawl sends
it again (workers/crawl_side.py).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from newsdedup.fetched.page import Page
from newsdedup.pipeline.transient import OUTAGE_ERRORS, through_outages
from newsdedup.store.staging import Staging

log = logging.getLogger(__name__)

BATCH_PAGES = 32
# Pages waiting for the thread above which the crawl pauses its downloads (a page is ~300 KB
# of HTML); the downloads in flight still arrive, so the queue itself is not capped.
PAUSE_AT = 64


class TaskSender(Protocol):
    def send_many(self, pages: list[tuple[int, str]]) -> list[int]:
        """Send one task per ``(page_id, url)``; the ids sent, in order, up to a failure."""


class StagingWriter:
    """``submit`` from the spider's thread; ``close`` once the crawl is over (flushes)."""

    def __init__(
        self,
        staging: Staging,
        sender: TaskSender,
        on_staged: Callable[[int], None],
        on_failed: Callable[[Page, str], None],
        prepare: Callable[[Page], Page] | None = None,
    ) -> None:
        self.staging = staging
        self.sender = sender
        self.on_staged = on_staged  # number of new pages staged (repeats in a crawl excluded)
        self.on_failed = on_failed  # a page that could not be staged, and why
        self.prepare = prepare  # a page's last touch before staging (its archive location)
        self._queue: queue.Queue[Page | None] = queue.Queue()
        # URLs this process staged: a batch retried after an outage may have been committed
        # already (the commit's answer was lost), and its pages must still count and be sent.
        self._staged_urls: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._run, name="staging-writer", daemon=True)
        self._thread.start()
        self._closed = False

    def submit(self, page: Page) -> None:
        if self._closed:
            raise RuntimeError("the staging writer is closed")
        self._queue.put(page)

    def backlogged(self) -> bool:
        """Whether the crawl should pause its downloads until the staging catches up."""
        return self._queue.qsize() > PAUSE_AT

    def close(self) -> None:
        """Stage and send what is queued (however long an outage makes that), then stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[Page] = []
            item = self._queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= BATCH_PAGES:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            else:
                stopping = True
            if batch:
                try:
                    self._write(batch)
                except Exception:
                    log.exception("staging a batch of %d pages failed", len(batch))
                    for page in batch:
                        self.on_failed(page, "could not stage the page (see the log)")

    def _stage_one(self, page: Page) -> tuple[int, bool]:
        """``Staging.stage``, or ``(0, False)`` (nothing to send) after reporting the page failed."""
        try:
            page_id, created = through_outages(lambda: self.staging.stage(page), f"staging {page.url}")
        except Exception as exc:
            log.exception("could not stage %s", page.url)
            self.on_failed(page, f"could not stage the page: {type(exc).__name__}: {exc}")
            return 0, False
        if not created:
            log.debug("%s is staged already in this crawl", page.url)
        return page_id, created

    def _write(self, batch: list[Page]) -> None:
        if self.prepare is not None:
            batch = [self.prepare(page) for page in batch]
        try:
            staged = through_outages(
                lambda: self.staging.stage_many(batch), f"staging {len(batch)} pages (PostgreSQL)"
            )
        except Exception as exc:  # noqa: BLE001 - find the page that broke it, keep the others
            log.warning(
                "staging %d pages at once failed (%s: %s); staging them one by one",
                len(batch),
                type(exc).__name__,
                exc,
            )
            staged = [self._stage_one(page) for page in batch]
        new = []
        for page, (page_id, created) in zip(batch, staged):
            key = (page.crawl_id, page.url)
            if page_id and (created or key not in self._staged_urls):
                new.append((page_id, page.url))
            self._staged_urls.add(key)
        if not new:
            return
        # Sent only now that the rows are committed: a worker always finds its page.
        sent = self.sender.send_many(new)
        if len(sent) < len(new):
            log.warning(
                "%d of %d pages could not be sent; they will be re-sent", len(new) - len(sent), len(new)
            )
        try:
            self.staging.mark_sent(sent)
        except OUTAGE_ERRORS as exc:  # unmarked pages look unsent: at worst sent twice
            log.warning("could not mark %d pages sent: %s", len(sent), type(exc).__name__)
        self.on_staged(len(new))
