"""The hard cases through the real pipeline (extract → dedup → store) on the pages of
tests/sites/hardcases/, on SQLite and PostgreSQL: every order the pages may come in."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from string import Template

import pytest
from test_hard_cases_end_to_end import DASHBOARD, FIXTURES, render

from newsdedup.dedup import DedupParams, InMemoryIndex
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import PagePipeline, content_words
from newsdedup.store import Store

BASE = {
    "harbor-times": "https://harbor.example",
    "coast-post": "https://coast.example",
    "valley-news": "https://valley.example",
}
ORIGINAL = "harbor/2026/04/ferry-tender.html"
NAMING_COPY = "coast/syndication/ferry-tender.html"  # rel=canonical names the original
SILENT_COPY = "valley/wire/ferry-tender.html"  # names nothing


def url_of(path: str) -> str:
    site = {"harbor": "harbor-times", "coast": "coast-post", "valley": "valley-news"}[path.split("/")[0]]
    return f"{BASE[site]}/{path.split('/', 1)[1]}"


def page(path: str, html: str | None = None) -> Page:
    source = {"harbor": "harbor-times", "coast": "coast-post", "valley": "valley-news"}[path.split("/")[0]]
    return Page(
        url=url_of(path),
        final_url=url_of(path),
        status=200,
        headers={"content-type": "text/html"},
        html=html if html is not None else render(path, 1, BASE),
        fetched_at=datetime.now(UTC),
        source=source,
        crawl_id="c",
    )


@pytest.fixture
def pipeline(store: Store) -> PagePipeline:
    params = DedupParams()
    return PagePipeline(store, InMemoryIndex(params), params, min_words=20)


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations([SILENT_COPY, NAMING_COPY, ORIGINAL])),
    ids=lambda order: "-".join(path.split("/")[0] for path in order),
)
def test_the_canonical_url_is_the_originals_as_soon_as_a_page_says_so(pipeline: PagePipeline, order) -> None:
    # The copy says so by its rel=canonical; the original by being first. (When the silent copy
    # came first, the original alone cannot tell which of the two is the original.)
    said = False
    for seen, path in enumerate(order):
        outcome = pipeline.process(page(path))
        said = said or path == NAMING_COPY or (path == ORIGINAL and seen == 0)
        record = pipeline.store.feed_reader.article(outcome.article_id or "")
        assert record is not None
        if said:
            assert record["canonical_url"] == url_of(ORIGINAL), (path, record)
    [record] = pipeline.store.feed_reader.feed()
    assert record["source"] == "harbor-times" and record["urls"][0] == url_of(ORIGINAL)
    assert len(record["urls"]) == 3 and record["version"] == 1


def test_a_page_of_chrome_and_a_newsletter_prompt_is_rejected(pipeline: PagePipeline) -> None:
    html = Template((FIXTURES / DASHBOARD).read_text(encoding="utf-8")).substitute(
        dashboard_data=json.dumps([{"t": i} for i in range(5000)])
    )
    outcome = pipeline.process(page("harbor/live/dashboard.html", html))
    assert outcome.kind == "rejected" and outcome.reason.startswith("too-short"), outcome
    assert pipeline.store.feed_reader.feed() == [] and pipeline.store.feed_reader.stats()["rejections"] == 1


def test_words_of_chrome_and_boilerplate_lines_do_not_count() -> None:
    text = (
        "Loading the live dashboard...\n"
        "Get the Harbor Times morning briefing: the day's top stories in your inbox before 7 a.m.\n"
        "Sign up now\nUpdated 5 minutes ago\n12 comments\nCopyright 2026 Harbor Times. All rights reserved."
    )
    assert content_words(text) == 4
    # A brief with the same prompt keeps its own words.
    brief = "The ferry to Marrow Island will run an extra evening crossing on Fridays from May.\n" + text
    assert content_words(brief) == 19
