"""Embedded crawls extracting in pool processes: same decisions, in the same order, as
extracting in the crawling process; a page that kills its process fails alone."""

from __future__ import annotations

import multiprocessing
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pool_helpers import HANG_MARKER, KILL_MARKER, prepare_or_die

from newsdedup.config import Settings
from newsdedup.dedup import DedupParams
from newsdedup.fetched.page import Page
from newsdedup.pipeline.embedded import EmbeddedSink
from newsdedup.pipeline.extraction_pool import ExtractionPool
from newsdedup.pipeline.forkserver import extraction_processes
from newsdedup.pipeline.page_pipeline import PageOutcome
from newsdedup.pipeline.services import open_embedded_pipeline

PAGES = Path(__file__).parent / "pages"


def page(url: str, html: str, source: str = "daily") -> Page:
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers={"content-type": "text/html", "etag": f'"{url}"'},
        html=html,
        fetched_at=datetime(2024, 5, 2, 12, 0, tzinfo=UTC),
        source=source,
    )


def mixed_pages() -> list[Page]:
    """New articles, a chrome-only re-fetch, a print copy, a page without text."""
    read = lambda name: (PAGES / name).read_text(encoding="utf-8")  # noqa: E731
    pages = [
        page("https://www.daily-example.com/local/lighthouse", read("news_jsonld.html")),
        page("https://www.daily-example.com/local/lighthouse", read("news_jsonld_new_chrome.html")),
        page("https://www.daily-example.com/print/lighthouse", read("news_jsonld.html")),
        page("https://partner-post.example/world/cave", read("syndicated_copy.html"), source="wire"),
        page("https://www.daily-example.com/nav", read("navigation_only.html")),
        page("https://www.daily-example.com/brief", read("short_brief.html")),
    ]
    for name in sorted((PAGES / "churn").iterdir()):
        pages.append(
            page(f"https://www.daily-example.com/churn/{name.name}", name.read_text(encoding="utf-8"))
        )
    return pages


def crawl(
    database_url: str,
    pages: list[Page],
    pool: ExtractionPool | None,
    before_page: Callable[[int, list[PageOutcome]], None] | None = None,
) -> tuple[list[PageOutcome], list[dict]]:
    """``before_page(i, outcomes so far)`` is called before page i is handed over."""
    pipeline = open_embedded_pipeline(Settings(database_url=database_url))
    outcomes: list[PageOutcome] = []
    try:
        sink = EmbeddedSink(pipeline, "c1", on_page_outcome=outcomes.append, pool=pool)
        for i, item in enumerate(pages):
            if before_page is not None:
                before_page(i, outcomes)
            sink.accept(item)
        sink.drain()
        # Article ids, and so story ids (a story's id is its first article's), are random: a
        # story is named by its order of appearance, which keeps which articles share one.
        stories: dict[str | None, str] = {}
        feed = [
            {
                **{k: v for k, v in record.items() if k not in ("id", "seq", "story_id")},
                "story": stories.setdefault(record["story_id"], f"s{len(stories)}"),
            }
            for record in pipeline.store.feed_reader.feed(after=0, limit=100)
        ]
        return outcomes, feed
    finally:
        if pool is not None:
            pool.close()
        pipeline.store.close()


def test_pool_makes_the_same_decisions_in_the_same_order_as_the_crawling_process(tmp_path) -> None:
    pages = mixed_pages()
    inline_outcomes, inline_feed = crawl(f"sqlite:///{tmp_path / 'inline.db'}", pages, None)
    pool = ExtractionPool(
        2, 20, open_embedded_pipeline(Settings(database_url=f"sqlite:///{tmp_path / 'p.db'}")).params
    )
    pooled_outcomes, pooled_feed = crawl(f"sqlite:///{tmp_path / 'pooled.db'}", pages, pool)

    assert shape(pooled_outcomes) == shape(inline_outcomes)
    kinds = [o.kind for o in inline_outcomes]
    assert {"created", "unchanged", "duplicate", "rejected"} <= set(kinds), kinds
    assert pooled_feed == inline_feed


def shape(outcomes: list[PageOutcome]) -> list[tuple[str, str, int | None, str]]:
    # Article ids are random: name them by order of appearance instead.
    names: dict[str, str] = {}
    name = lambda match: names.setdefault(match.group(1), f"a{len(names)}")  # noqa: E731
    return [(o.url, o.kind, o.version, re.sub(r"\barticle ([0-9a-f]{8})", name, o.reason)) for o in outcomes]


def hold_back_creation(pool: ExtractionPool, monkeypatch) -> threading.Event:
    """Make creating ``pool``'s processes wait until the returned event is set, as the
    forkserver's preload makes it wait in a real start."""
    release = threading.Event()
    new_pool = pool._new_pool

    def held_back(inherited):
        assert release.wait(60)
        return new_pool(inherited)

    monkeypatch.setattr(pool, "_new_pool", held_back)
    return release


def test_pages_that_arrive_while_the_pool_starts_are_extracted_at_once_in_the_crawling_process(
    tmp_path, monkeypatch
) -> None:
    """The crawl does not stop for the forkserver's preload: the first pages are extracted and
    committed in the crawling process, the rest in the pool once it is up, and the decisions are
    those of a crawl without a pool."""
    pages = mixed_pages()
    inline_outcomes, inline_feed = crawl(f"sqlite:///{tmp_path / 'inline.db'}", pages, None)
    pool = ExtractionPool(2, 20, DedupParams())
    release = hold_back_creation(pool, monkeypatch)
    pool.start()

    def before_page(i: int, outcomes: list[PageOutcome]) -> None:
        if i < 3:
            assert not pool.ready()
            assert len(outcomes) == i  # each page committed as it came, none waiting
        elif i == 3:
            release.set()
            deadline = time.monotonic() + 120
            while not pool.ready():
                assert time.monotonic() < deadline, "the pool did not start"
                time.sleep(0.05)

    mixed_outcomes, mixed_feed = crawl(f"sqlite:///{tmp_path / 'mixed.db'}", pages, pool, before_page)
    assert shape(mixed_outcomes) == shape(inline_outcomes)
    assert mixed_feed == inline_feed


def test_a_page_that_kills_its_extraction_process_fails_alone(tmp_path) -> None:
    pages = mixed_pages()[:5]
    killer = page(
        "https://www.daily-example.com/crash", pages[0].html.replace("<body>", "<body>" + KILL_MARKER)
    )
    pages.insert(2, killer)
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    pipeline_params = open_embedded_pipeline(Settings(database_url=url)).params
    pool = ExtractionPool(2, 20, pipeline_params, prepare=prepare_or_die)
    outcomes, feed = crawl(url, pages, pool)

    by_url = {}
    for outcome in outcomes:
        by_url.setdefault(outcome.url, []).append(outcome)
    assert [o.kind for o in by_url[killer.url]] == ["failed"]
    assert "extraction process died" in by_url[killer.url][0].reason
    # Every other page was decided as without the crash, none lost with the broken process.
    others = [o for o in outcomes if o.url != killer.url]
    assert len(others) == 5 and "failed" not in {o.kind for o in others}
    assert len(feed) == 2  # the lighthouse (with its print copy) and the cave story
    from newsdedup.store import Store

    store = Store.open(url)
    try:
        failures = store.failure_log.latest()
        assert [f["url"] for f in failures if f["stage"] == "process"] == [killer.url]
    finally:
        store.close()


@pytest.mark.timeout(300)
def test_a_page_past_its_time_budget_is_failed_as_timed_out_and_its_process_replaced(tmp_path) -> None:
    pages = mixed_pages()[:5]
    stuck = page(
        "https://www.daily-example.com/stuck", pages[0].html.replace("<body>", "<body>" + HANG_MARKER)
    )
    pages.insert(1, stuck)
    url = f"sqlite:///{tmp_path / 'stuck.db'}"
    params = open_embedded_pipeline(Settings(database_url=url)).params
    # One process: the pages after the stuck one can only be extracted by its replacement.
    pool = ExtractionPool(1, 20, params, prepare=prepare_or_die, time_limit=2.0)
    outcomes, feed = crawl(url, pages, pool)

    assert [(o.url, o.kind, o.reason) for o in outcomes if o.url == stuck.url] == [
        (stuck.url, "failed", "timed out")
    ]
    others = [o for o in outcomes if o.url != stuck.url]
    assert len(others) == 5 and "failed" not in {o.kind for o in others}
    assert len(feed) == 2
    from newsdedup.store import Store

    with Store.open(url) as store:
        assert [(f["url"], f["reason"]) for f in store.failure_log.latest() if f["stage"] == "process"] == [
            (stuck.url, "timed out")
        ]


@pytest.mark.timeout(120)
def test_the_budget_in_the_crawling_process_stops_a_runaway_pattern() -> None:
    # The budget interrupts Python code and the regular expression engine alike: this
    # search would take longer than the universe is old.
    import re

    from newsdedup.pipeline.budget import PageTimedOut, page_budget

    with pytest.raises(PageTimedOut), page_budget(0.5):
        re.compile(r"(a+)+b").search("a" * 64)
    from newsdedup.dedup import DedupParams
    from newsdedup.pipeline.page_pipeline import prepare_page

    lighthouse = mixed_pages()[0]
    with page_budget(5):  # a page of ordinary size is extracted to its end
        prepared = prepare_page(lighthouse, 20, DedupParams())
    assert prepared.fingerprint is not None


@pytest.mark.parametrize("processes", [1, 2])
def test_the_text_cap_holds_whether_pages_are_extracted_here_or_in_the_pool(tmp_path, processes) -> None:
    from newsdedup.pipeline.services import open_extraction_pool

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cap.db'}", max_text_chars=1000, extract_processes=processes
    )
    paragraphs = "".join(
        f"<p>Paragraph {n} of the harbour report says the crane number {n} moved {n * 7} boxes today.</p>"
        for n in range(60)
    )
    long_page = page(
        "https://www.daily-example.com/long",
        f"<html><head><title>Harbour report</title></head><body><article><h1>Harbour report</h1>"
        f"{paragraphs}</article></body></html>",
    )
    pipeline = open_embedded_pipeline(settings)
    pool = open_extraction_pool(settings)
    assert (pool is None) == (processes == 1)
    outcomes: list[PageOutcome] = []
    try:
        if pool is not None:
            pool.start()
        sink = EmbeddedSink(pipeline, "c1", on_page_outcome=outcomes.append, pool=pool)
        sink.accept(long_page)
        sink.drain()
    finally:
        if pool is not None:
            pool.close()
        pipeline.store.close()
    assert [(o.kind, o.reason.split(":")[0]) for o in outcomes] == [("rejected", "too-long")]


@pytest.mark.parametrize(
    ("setting", "cpus", "expected"), [(0, 1, 1), (0, 2, 2), (0, 16, 4), (1, 16, 1), (3, 2, 3)]
)
def test_automatic_process_count_uses_the_cores_but_not_without_bound(
    setting: int, cpus: int, expected: int
) -> None:
    assert extraction_processes(setting, cpus) == expected


def test_start_does_not_wait_for_the_processes_and_the_first_page_does(monkeypatch) -> None:
    """The forkserver's imports take about a second: ``start`` must return before they end
    (the crawl opens its store and Scrapy meanwhile), and the first page waits for them."""
    pool = ExtractionPool(1, 20, DedupParams())
    release = hold_back_creation(pool, monkeypatch)
    try:
        pool.start()  # would hang here if starting blocked
        assert pool._pool is None
        release.set()
        lighthouse = page(
            "https://www.daily-example.com/local/lighthouse", (PAGES / "news_jsonld.html").read_text()
        )
        prepared = pool.submit(lighthouse).future.result(timeout=120)
        assert "lighthouse" in prepared.extracted.text.lower()
    finally:
        pool.close()


def test_closing_a_pool_that_is_still_starting_does_not_wait_and_its_processes_stop_once_up(
    monkeypatch,
) -> None:
    """A crawl of a few pages extracts them all in the crawling process while the pool starts:
    it ends without waiting for the forkserver's preload, and leaves no process behind."""
    pool = ExtractionPool(2, 20, DedupParams())
    release = hold_back_creation(pool, monkeypatch)
    before = set(threading.enumerate())
    pool.start()
    (starting,) = set(threading.enumerate()) - before
    closed_at = time.monotonic()
    pool.close()  # would wait for ``release`` (the preload) before
    assert time.monotonic() - closed_at < 1
    assert starting.is_alive()
    release.set()  # the processes come up now, and are stopped by the start's thread
    starting.join(timeout=120)
    assert not starting.is_alive()
    assert pool._pool is None
    assert not [child for child in multiprocessing.active_children() if child.is_alive()]
    pool.close()  # a second close changes nothing


def test_a_pool_that_could_not_start_fails_its_first_page_and_closes_quietly(monkeypatch) -> None:
    pool = ExtractionPool(1, 20, DedupParams())

    def broken(inherited):
        raise OSError("no processes for you")

    monkeypatch.setattr(pool, "_new_pool", broken)
    pool.start()
    with pytest.raises(OSError, match="no processes for you"):
        pool.submit(page("https://www.daily-example.com/a", "<html></html>"))
    pool.close()
