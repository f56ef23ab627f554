"""A time budget for the work on one page, in the process that does it.

Used where a page is extracted in the process that runs it: a Celery worker's pool process
(distributed mode) and an embedded crawl with ``NEWSDEDUP_EXTRACT_PROCESSES=1``. An interval
timer (SIGALRM) raises ``PageTimedOut`` in the main thread once the budget is spent. Python
code and the ``re`` engine check for signals, so a slow regular expression or a long loop is
stopped; a single call into native code (lxml parsing a huge tree) is stopped when it returns.
Embedded crawls with an extraction pool kill the process instead (pipeline/extraction_pool.py).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

TIMED_OUT = "timed out"


class PageTimedOut(BaseException):
    """The page took longer than its budget (``NEWSDEDUP_PAGE_TIME_LIMIT``).

    A BaseException, as KeyboardInterrupt is: extraction code (trafilatura's, ours) turns any
    Exception into "no article here", and the budget must get through that."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"{TIMED_OUT} after {seconds:g}s")
        self.seconds = seconds


def can_interrupt() -> bool:
    """Whether ``page_budget`` can stop work here: only the main thread receives signals."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def page_budget(seconds: float) -> Iterator[None]:
    """Raise ``PageTimedOut`` in the block after ``seconds``. Without a way to interrupt
    (``can_interrupt``) or with ``seconds <= 0`` the block simply runs."""
    if seconds <= 0 or not can_interrupt():
        yield
        return
    armed = True

    def expire(signum: int, frame: FrameType | None) -> None:
        if armed:  # a signal that lands after the block ended is ignored
            raise PageTimedOut(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
