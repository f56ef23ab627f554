"""The CPU time story work takes inside one ``newsdedup`` command (``bench.stories``).

    python -m bench.story_cpu RESULT.json import-warc FILE --source NAME

runs the command in this process with the story stages wrapped by a timer of the calling
thread's CPU time (``time.thread_time``; nested calls are not counted twice), then writes to
RESULT.json the CPU seconds of the stages (and, of them, the word lists' loading); the caller
reads the whole process's CPU time (``getrusage``). The two come from the same run, so the
machine's drift from one run to the next (±10 % on the machine of bench/README.md) divides out
of their ratio, where comparing a run with stories on against
another with them off carries it whole. What it cannot see: the story rows' share of SQLite's
commit and of the garbage collector's passes, which the paired runs of ``bench.stories`` do.
"""

from __future__ import annotations

import functools
import gc
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_spent = {"seconds": 0.0, "word_lists": 0.0}
_depth = threading.local()


def _timed(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outermost = not getattr(_depth, "inside", False)
        if not outermost:
            return function(*args, **kwargs)
        _depth.inside = True
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            _spent["seconds"] += time.thread_time() - started
            _depth.inside = False

    return wrapper


def _timed_word_lists(function: Callable[..., Any]) -> Callable[..., Any]:
    """Also on its own: loading a language's word list is paid once a process (a long crawl or
    a worker pays it once; a short import of many languages pays it for each)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            _spent["word_lists"] += time.thread_time() - started

    return wrapper


def install() -> None:
    """Wrap what stories add to a page: its terms (with what is derived from them) where it is
    extracted, and its assignment where it is stored."""
    from newsdedup.dedup import stories
    from newsdedup.dedup.stories import ArticleTerms
    from newsdedup.pipeline import page_pipeline
    from newsdedup.store import store as store_module

    page_pipeline._article_terms = _timed(page_pipeline._article_terms)  # type: ignore[assignment]
    ArticleTerms.warm = _timed(ArticleTerms.warm)  # type: ignore[method-assign]
    store_module.assign_story = _timed(store_module.assign_story)  # type: ignore[assignment]
    stories.word_frequencies = _timed_word_lists(stories.word_frequencies)  # type: ignore[assignment]


def main() -> None:
    result, command = Path(sys.argv[1]), sys.argv[2:]
    install()
    from newsdedup.cli import main as command_group

    command_group.main(args=command, prog_name="newsdedup", standalone_mode=False)
    result.write_text(
        json.dumps({"story_seconds": _spent["seconds"], "word_list_seconds": _spent["word_lists"]})
    )
    gc.freeze()  # as ``newsdedup.cli.run`` does: the interpreter's teardown costs what it costs there


if __name__ == "__main__":
    main()
