"""Functions the extraction-pool tests send to pool processes (they travel by module name)."""

from __future__ import annotations

import os
import signal
import time

from newsdedup.dedup import DedupParams
from newsdedup.extract.rules import PageRules
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import PreparedPage, prepare_page

KILL_MARKER = "<!-- kill the extraction process -->"
HANG_MARKER = "<!-- hang the extraction process -->"


def prepare_or_die(
    page: Page, min_words: int, params: DedupParams, max_text_chars: int, rules: PageRules | None = None
) -> PreparedPage:
    """``prepare_page``, except that a page carrying KILL_MARKER ends the process at once,
    as a crash in native code or the OOM killer would, and one carrying HANG_MARKER never
    ends (a page stuck in native code, where no signal reaches)."""
    if KILL_MARKER in page.html:
        os._exit(70)
    if HANG_MARKER in page.html:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGINT, signal.SIGTERM})
        while True:
            time.sleep(1)
    return prepare_page(page, min_words, params, max_text_chars, rules)


def prepare_and_log(
    page: Page, min_words: int, params: DedupParams, max_text_chars: int, rules: PageRules | None = None
) -> PreparedPage:
    """``prepare_page`` with a warning logged from the pool process first."""
    import logging

    logging.getLogger("tests.pool_helpers").warning("extracting %s in process %d", page.url, os.getpid())
    return prepare_page(page, min_words, params, max_text_chars, rules)
