"""Each source learns its own boilerplate from its pages (embedded mode, SQLite and PostgreSQL):
a line seen on three of its articles counts neither as words of an article nor as evidence that
two pages are one, for that source only; operators can list it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest
from boilerplate_site import PITCH, STORIES, dashboard_page, story_page

from newsdedup.dedup import DedupParams, InMemoryIndex
from newsdedup.dedup.boilerplate import LEARNED_AFTER
from newsdedup.pipeline.page_pipeline import PagePipeline
from newsdedup.store import Store


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def pipeline(request: pytest.FixtureRequest) -> Iterator[PagePipeline]:
    store = Store.open(request.getfixturevalue(request.param))
    params = DedupParams()
    yield PagePipeline(store, InMemoryIndex(params), params, min_words=20)
    store.close()


def test_a_page_of_a_loading_line_and_the_sites_own_pitch_is_rejected_once_learned(
    pipeline: PagePipeline,
) -> None:
    for i in range(LEARNED_AFTER):
        assert pipeline.process(story_page(i)).kind == "created"
    outcome = pipeline.process(dashboard_page())
    assert outcome.kind == "rejected" and "source's boilerplate" in outcome.reason, outcome
    assert len(pipeline.store.feed_reader.feed()) == LEARNED_AFTER
    [line] = pipeline.store.boilerplate.lines("lantern-gazette")
    assert line.sample == PITCH and line.pages == LEARNED_AFTER


def test_short_articles_sharing_the_learned_pitch_stay_apart(pipeline: PagePipeline) -> None:
    outcomes = [pipeline.process(story_page(i)) for i in range(len(STORIES))]
    assert [o.kind for o in outcomes] == ["created"] * len(STORIES)
    assert len({o.article_id for o in outcomes}) == len(STORIES)
    # A re-crawl of the first story: nothing new, although the pitch is now boilerplate.
    assert pipeline.process(story_page(0)).kind == "unchanged"
    assert all(r["version"] == 1 for r in pipeline.store.feed_reader.feed())


def test_a_line_learned_on_one_source_is_not_boilerplate_of_another(pipeline: PagePipeline) -> None:
    for i in range(LEARNED_AFTER):
        pipeline.process(story_page(i))
    # On the other site the pitch is words of the page, until that site learns otherwise.
    outcome = pipeline.process(dashboard_page(source="harbour-echo", host="echo.example"))
    assert outcome.kind != "rejected", outcome
    assert pipeline.store.boilerplate.lines("harbour-echo") == []


def test_the_copies_and_versions_of_one_article_teach_nothing(pipeline: PagePipeline) -> None:
    first = story_page(0)
    pipeline.process(first)
    for path in ("print", "amp", "mobile"):  # the same article at alternate URLs
        url = first.url.replace("/news/", f"/{path}/")
        assert pipeline.process(replace(first, url=url, final_url=url)).kind == "duplicate"
    assert pipeline.store.boilerplate.lines("lantern-gazette") == []
    assert pipeline.store.boilerplate.lines("lantern-gazette", everything=True)[0].pages == 1


def test_sources_boilerplate_lists_a_sources_learned_lines(sqlite_url: str, tmp_path) -> None:
    store = Store.open(sqlite_url)
    params = DedupParams()
    pipeline = PagePipeline(store, InMemoryIndex(params), params, min_words=20)
    for i in range(LEARNED_AFTER):
        pipeline.process(story_page(i))
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDEDUP_")}
    env["NEWSDEDUP_DATABASE_URL"] = sqlite_url
    result = subprocess.run(
        [sys.executable, "-m", "newsdedup", "sources", "--boilerplate", "lantern-gazette"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert PITCH in result.stdout and "1 boilerplate lines" in result.stdout, result.stdout


def test_briefs_opening_with_one_agency_sentence_stay_apart_and_an_update_is_a_version(
    pipeline: PagePipeline,
) -> None:
    from boilerplate_site import article_html, page
    from test_dedup_shared_lead import AGENCY, ARTICLE, TAIL_LONGER, TAIL_TRADE

    briefs = [
        page(
            f"https://coast.example/brief/{n}.html",
            article_html("Ferries halted", f"{AGENCY} {tail}"),
            "coastline",
        )
        for n, tail in enumerate((TAIL_TRADE, TAIL_LONGER))
    ]
    assert [pipeline.process(b).kind for b in briefs] == ["created", "created"]
    story = page("https://coast.example/story.html", article_html(*ARTICLE), "coastline")
    update_text = [
        *ARTICLE[1:],
        "The ministry later said a chartered catamaran would carry pupils from Monday.",
    ]
    update = page(
        "https://coast.example/story-update.html", article_html(ARTICLE[0], *update_text), "coastline"
    )
    assert pipeline.process(story).kind == "created"
    outcome = pipeline.process(update)
    assert outcome.kind == "updated", outcome
    assert len(pipeline.store.feed_reader.feed()) == 3


def test_a_source_keeps_counts_for_its_most_frequent_lines_only(pipeline: PagePipeline) -> None:
    from datetime import UTC, datetime

    boilerplate = pipeline.store.boilerplate
    with pipeline.store.engine.begin() as connection:
        for article in range(6):  # line i is on i + 1 ... articles: line 0 once, line 5 six times
            lines = {f"{i:016x}": f"line {i}" for i in range(article, 6)}
            boilerplate.learn(connection, "busy-site", lines, datetime.now(UTC))
        boilerplate.learn(connection, "other-site", {"00000000000000aa": "kept"}, datetime.now(UTC))
    assert boilerplate.prune("busy-site", keep=3) == 3
    assert sorted(line.sample for line in boilerplate.lines("busy-site", everything=True)) == [
        "line 3",
        "line 4",
        "line 5",
    ]
    assert [line.sample for line in boilerplate.lines("busy-site")] == ["line 5", "line 4", "line 3"]
    assert boilerplate.count("other-site") == 1
