"""Sending page tasks by name, and sending again the ones whose message was lost.

Used wherever pages are staged or swept: the crawling process (workers/crawl_side.py), a
reprocess command, the workers' sweeper and beat's sweep (workers/sweeper.py). It needs the
Celery app's connection only, no task code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery

from newsdedup.store.staging import Staging
from newsdedup.workers.queues import PAGES_QUEUE

log = logging.getLogger(__name__)

# A page sent this long ago and still unclaimed while the pages queue is empty has lost its
# message (it was reserved by a worker that died); with an empty queue nothing else can be
# holding it but a worker that is about to claim it, which takes milliseconds.
UNCLAIMED_GRACE_SECONDS = 15.0


class PageSender:
    """Sends ``newsdedup.process_page`` by name (no task code needed in the sending process);
    ``task`` and ``extra_args`` for another task of a page (``newsdedup.reprocess_page`` and
    its target store)."""

    def __init__(
        self, app: Celery, task: str = "newsdedup.process_page", extra_args: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.task = task
        self.extra_args = tuple(extra_args)

    def send_many(self, pages: list[tuple[int, str]]) -> list[int]:
        """One task per ``(page_id, url)`` over one broker connection; returns the ids sent,
        in order, up to the first failure (logged: the rest stay unsent, to be re-sent)."""
        sent: list[int] = []
        try:
            with self.app.producer_or_acquire() as producer:
                for page_id, url in pages:
                    self.app.send_task(self.task, args=[page_id, url, *self.extra_args], producer=producer)
                    sent.append(page_id)
        except Exception as exc:  # noqa: BLE001 - Redis down: the pages stay pending, unsent
            log.warning("could not send page %s: %s", pages[len(sent)][0], exc)
        return sent

    def send_release(self, crawl_id: str) -> bool:
        """Ask a worker to judge the crawl's held pages (``newsdedup.release_held``), in the
        store the pages went to; False when Redis refused the message (the caller asks again)."""
        target = {"target": self.extra_args[0]} if self.extra_args else {}
        try:
            self.app.send_task("newsdedup.release_held", args=[crawl_id], kwargs=target)
        except Exception as exc:  # noqa: BLE001 - Redis down: asked again on the next round
            log.warning("could not ask for the release of crawl %s's held pages: %s", crawl_id, exc)
            return False
        return True

    def queue_length(self) -> int | None:
        """Messages waiting in the pages queue (all priority lists); None if Redis is down."""
        try:
            with self.app.connection_for_read() as conn:
                # Not passive: a passive declare fails before any worker has bound the queue.
                return int(conn.default_channel.queue_declare(PAGES_QUEUE).message_count)
        except Exception:
            log.debug("could not read the length of %s", PAGES_QUEUE, exc_info=True)
            return None


def resend_stale(
    staging: Staging,
    sender: PageSender,
    crawl_id: str | None,
    unclaimed_grace: float = UNCLAIMED_GRACE_SECONDS,
) -> int:
    """Send again the pending pages of ``crawl_id`` (all crawls when None) whose message may be
    lost. Safe to over-send: a page processed already makes its task a no-op."""
    queue_empty = sender.queue_length() == 0
    stale = staging.stale(crawl_id, unclaimed_grace if queue_empty else None)
    sent = sender.send_many(stale) if stale else []  # Redis down: the next round tries again
    staging.mark_sent(sent)
    if sent:
        log.warning("re-sent %d pending pages whose message was lost or never sent", len(sent))
    return len(sent)
