"""CPU time per page of the steps of extraction, fingerprinting and commit, in this process.

    python -m bench.cpu_per_page [--data DIR] [--limit N] [--repeat R]

CPU time (``time.process_time``), not wall time: on a machine whose cores other work shares,
it still says what a step costs. Every Fundus page, each step timed alone on its own input,
the least of ``--repeat`` runs (default 3) per step:

- ``prepare_page``: all of extraction, the language check and the fingerprint;
- ``read_structured_data``, ``strip_chrome_blocks``: on a freshly parsed tree of the page;
- ``trafilatura metadata (author only)``: what the lazy fallback costs on the pages whose
  structured data leaves only the author open (``extract.extractor``);
- ``fingerprint_lines``: on the page's normalized lines;
- commit, new / unchanged: ``PagePipeline.commit`` into a fresh SQLite store, the pages as new
  articles, then the same pages again; then the store's size on disk and its stories' rows.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import data_argument_parser, print_table, require_dataset
from bench.throughput import load_pages
from newsdedup.config import Settings
from newsdedup.dedup.fingerprint import fingerprint_lines
from newsdedup.extract.chrome import strip_chrome_blocks
from newsdedup.extract.extractor import _TrafilaturaMetadata
from newsdedup.extract.html_tree import load_html
from newsdedup.extract.structured import read_structured_data
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import PreparedPage, prepare_page
from newsdedup.pipeline.services import open_embedded_pipeline
from newsdedup.store.models import Story

BASE_URL = "http://127.0.0.1:8000"


def _timed(inputs: list[Any], step: Callable[[Any], object], repeat: int) -> float:
    """Least CPU seconds over ``repeat`` runs of ``step`` on every input."""
    best = float("inf")
    for _ in range(repeat):
        spent = 0.0
        for item in inputs:
            started = time.process_time()
            step(item)
            spent += time.process_time() - started
        best = min(best, spent)
    return best


def measure(folder: Path, limit: int, repeat: int) -> tuple[int, dict[str, tuple[float, int]]]:
    """(pages, {step: (CPU seconds summed over its pages, how many pages it ran on)})."""
    site_pages = load_pages(folder, limit)
    now = datetime.now(UTC)
    pages = [
        Page(BASE_URL + p.path, BASE_URL + p.path, 200, {"content-type": "text/html"}, p.html, now, "bench")
        for p in site_pages
    ]
    results: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as workdir:
        settings = Settings(database_url=f"sqlite:///{workdir}/cpu.db")
        pipeline = open_embedded_pipeline(settings, sources=())
        try:
            params, min_words = pipeline.params, pipeline.min_words
            prepared: list[PreparedPage] = []

            def prepare(page: Page) -> None:
                prepared.append(prepare_page(page, min_words, params, pipeline.max_text_chars))

            results["prepare_page"] = (_timed(pages, prepare, repeat), len(pages))
            prepared = prepared[: len(pages)]
            trees = [[load_html(p.html) for p in pages] for _ in range(repeat)]
            results["read_structured_data"] = (_timed(trees[0], read_structured_data, 1), len(pages))
            best = min(_timed(batch, strip_chrome_blocks, 1) for batch in trees)
            results["strip_chrome_blocks"] = (best, len(pages))
            # The pages whose heuristics are asked for the author first (extract/extractor.py).
            author_pages = [p for p in pages if _asks_author_first(p)]
            best = min(
                _timed(
                    author_pages,
                    lambda p: _TrafilaturaMetadata(load_html(p.html), p.url, now).get("author"),
                    1,
                )
                - _timed(author_pages, lambda p: load_html(p.html), 1)
                for _ in range(repeat)
            )
            results["trafilatura metadata (author only)"] = (max(0.0, best), len(author_pages))
            lines = [list(p.lines) for p in prepared if p.fingerprint is not None]
            results["fingerprint_lines"] = (
                _timed(lines, lambda x: fingerprint_lines(x, params), repeat),
                len(lines),
            )
            pairs = list(zip(pages, prepared, strict=True))
            results["commit, new"] = (_timed(pairs, lambda pp: pipeline.commit(*pp), 1), len(pairs))
            results["commit, unchanged"] = (_timed(pairs, lambda pp: pipeline.commit(*pp), 1), len(pairs))
            with pipeline.store.db.read_once() as connection:
                stories, profile_bytes = connection.execute(
                    select(func.count(), func.coalesce(func.sum(func.length(Story.profile)), 0))
                ).one()
        finally:
            pipeline.store.close()
        store_bytes = sum(path.stat().st_size for path in Path(workdir).glob("cpu.db*"))
    print(
        f"the store after the commits: {store_bytes / 1e6:.2f} MB on disk; {stories} stories, their "
        f"profiles {profile_bytes / 1e6:.2f} MB ({profile_bytes / max(1, stories) / 1000:.1f} KB a story)"
    )
    return len(pages), results


def _asks_author_first(page: Page) -> bool:
    """Whether the page's first question to trafilatura's metadata is the author's."""
    asked: list[str] = []
    original = _TrafilaturaMetadata.get

    def spy(self: _TrafilaturaMetadata, name: str) -> str | None:
        asked.append(name)
        return original(self, name)

    _TrafilaturaMetadata.get = spy  # type: ignore[method-assign]
    try:
        prepare_page(page, 0, _PARAMS, 10**9)
    finally:
        _TrafilaturaMetadata.get = original  # type: ignore[method-assign]
    return bool(asked) and asked[0] == "author"


_PARAMS: Any = None


def main(argv: list[str] | None = None) -> int:
    global _PARAMS
    parser = data_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the least counts (default 3)")
    args = parser.parse_args(argv)
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    from newsdedup.pipeline.services import dedup_params

    _PARAMS = dedup_params(Settings())
    n, results = measure(folder, args.limit, max(1, args.repeat))
    print_table(
        ["step (CPU time)", "pages", "seconds", "ms/page of those", "ms/page of all"],
        [
            (step, count, seconds, 1000 * seconds / max(1, count), 1000 * seconds / n)
            for step, (seconds, count) in results.items()
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
