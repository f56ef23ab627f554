"""Functions the extraction-pool tests send to pool processes (they travel by module name)."""
from __future__ import annotations

import os

from crawler.page import Page
from dedup import DedupParams
from workers.pipeline import PreparedPage, prepare_page

KILL_MARKER = "<!-- kill the extraction process -->"


def prepare_or_die(page: Page, min_words: int, params: DedupParams) -> PreparedPage:
    """``prepare_page``, except that a page carrying KILL_MARKER ends the process at once,
    as a crash in native code or the OOM killer would."""
    if KILL_MARKER in page.html:
        os._exit(70)
    return prepare_page(page, min_words, params)
