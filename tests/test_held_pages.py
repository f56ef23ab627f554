"""A new source's short pages wait until its boilerplate is known (store/held.py): a page of
chrome and the site's own pitch, crawled before the articles that carry the same pitch, is
refused as it is when crawled after them, and never reaches the feed; a short article is stored
all the same, at the latest when the crawl ends. Embedded and distributed mode, SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from boilerplate_site import PITCH, STORIES, article_html, dashboard_page, page, story_page
from helpers import newsdedup, newsdedup_env, summary_of

from newsdedup.dedup import DedupParams, InMemoryIndex
from newsdedup.pipeline.page_pipeline import PageOutcome, PagePipeline
from newsdedup.siteserver import SiteServer
from newsdedup.store import Store

SOURCE = "lantern-gazette"


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def pipeline(request: pytest.FixtureRequest) -> Iterator[PagePipeline]:
    store = Store.open(request.getfixturevalue(request.param))
    params = DedupParams()
    yield PagePipeline(store, InMemoryIndex(params), params, min_words=20, hold_below_words=150)
    store.close()


def released_outcomes(pipeline: PagePipeline) -> list[tuple[str, PageOutcome]]:
    released: list[tuple[str, PageOutcome]] = []
    pipeline.on_released = lambda page, outcome: released.append((page.url, outcome))
    return released


def test_a_page_of_chrome_and_pitch_crawled_first_is_refused_once_the_source_has_its_first_pages(
    pipeline: PagePipeline,
) -> None:
    released = released_outcomes(pipeline)
    dashboard = dashboard_page()
    assert pipeline.process(dashboard).kind == "held"
    assert pipeline.process(story_page(0)).kind == "held"
    assert pipeline.store.feed_reader.feed() == []  # nothing reaches the feed while held
    # The third page of the source: the pitch is now on three pages, and the held ones are judged.
    assert pipeline.process(story_page(1)).kind == "held"
    kinds = {url: outcome.kind for url, outcome in released}
    assert kinds == {
        dashboard.url: "rejected",
        story_page(0).url: "created",
        story_page(1).url: "created",
    }, released
    rejection = dict(released)[dashboard.url]
    assert "source's boilerplate" in rejection.reason, rejection
    feed = pipeline.store.feed_reader.feed()
    assert sorted(r["title"] for r in feed) == sorted(STORIES[i][0] for i in (0, 1))
    assert pipeline.store.held.count() == 0
    # Later short pages of the source are judged at once, with the learned pitch.
    assert pipeline.process(story_page(2)).kind == "created"
    again = dashboard_page()
    assert pipeline.process(again).kind == "rejected"
    [line] = pipeline.store.boilerplate.lines(SOURCE)
    assert line.sample == PITCH


def test_a_new_sources_only_short_article_is_stored_when_the_crawl_ends(pipeline: PagePipeline) -> None:
    released = released_outcomes(pipeline)
    page = story_page(3, source="quiet-weekly", host="quiet.example")
    assert pipeline.process(page).kind == "held"
    assert pipeline.store.held.count() == 1
    outcomes = pipeline.release_held()  # what the end of a crawl does
    assert [o.kind for o in outcomes] == ["created"] and [u for u, _ in released] == [page.url]
    [record] = pipeline.store.feed_reader.feed()
    assert record["title"] == STORIES[3][0] and PITCH in record["text"]
    assert pipeline.release_held() == []  # released once


def test_long_articles_of_a_new_source_are_stored_at_once(pipeline: PagePipeline) -> None:
    title, text = STORIES[4]
    long_html = article_html(title, text, *(f"{text} Paragraph {n} adds detail." for n in range(6)))
    outcome = pipeline.process(page("https://lantern.example/long.html", long_html, SOURCE))
    assert outcome.kind == "created", outcome
    assert pipeline.store.held.count() == 0


def test_a_held_page_and_its_copy_become_one_article(pipeline: PagePipeline) -> None:
    first = story_page(2)
    copy = page("https://lantern.example/print/2.html", first.html, SOURCE)
    assert pipeline.process(first).kind == "held"
    assert pipeline.process(copy).kind == "held"
    kinds = sorted(o.kind for o in pipeline.release_held())
    assert kinds == ["created", "duplicate"]
    [record] = pipeline.store.feed_reader.feed()
    assert set(record["urls"]) == {first.url, copy.url}


# --- through the `newsdedup` command, both modes ---


def publish(root: Path, base: str) -> list[str]:
    """The site: its live-results page (chrome and the pitch) listed first, then two stories."""
    paths = ["live/results.html", "news/0.html", "news/1.html"]
    pages = {
        "live/results.html": dashboard_page(host="x").html,
        "news/0.html": story_page(0, host="x").html,
        "news/1.html": story_page(1, host="x").html,
    }
    for path, html in pages.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(html, encoding="utf-8")
    urls = "".join(f"<url><loc>{base}/{p}</loc></url>" for p in paths)
    (root / "sitemap.xml").write_text(
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
        encoding="utf-8",
    )
    # Another source, with one short article only: it never learns anything.
    (root / "quiet").mkdir()
    (root / "quiet" / "only.html").write_text(story_page(3, host="x").html, encoding="utf-8")
    (root / "quiet.xml").write_text(
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/quiet/only.html</loc></url></urlset>",
        encoding="utf-8",
    )
    return [f"{base}/{p}" for p in paths]


@pytest.fixture(
    params=["embedded", pytest.param("distributed", marks=[pytest.mark.redis, pytest.mark.postgres])]
)
def crawl_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[dict[str, str], list[str]]]:
    root = tmp_path / "www"
    root.mkdir()
    server = SiteServer(root).start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        urls = publish(root, server.base_url)
        folder = tmp_path / "user"
        (folder / "config").mkdir(parents=True)
        (folder / "config" / "sources.yaml").write_text(
            f'sources:\n  - {{name: {SOURCE}, sitemaps: ["{server.base_url}/sitemap.xml"]}}\n'
            f'  - {{name: quiet-weekly, sitemaps: ["{server.base_url}/quiet.xml"]}}\n',
            encoding="utf-8",
        )
        env = newsdedup_env()
        env["NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES"] = "1"
        if request.param == "embedded":
            env["NEWSDEDUP_DATABASE_URL"] = f"sqlite:///{tmp_path / 'store.db'}"
        else:
            from test_hard_cases_end_to_end import start_ready_worker

            env.update(
                NEWSDEDUP_DATABASE_URL=request.getfixturevalue("postgres_url"),
                NEWSDEDUP_REDIS_URL=request.getfixturevalue("redis_url"),
                NEWSDEDUP_LSH_BASENAME="hard-cases",
            )
            workers.append(start_ready_worker(env, tmp_path))
        env["PWD"] = str(folder)
        yield env, urls
    finally:
        from test_distributed import kill_group

        for process in workers:
            kill_group(process)
        if (tmp_path / "worker.log").exists():
            sys.stderr.write((tmp_path / "worker.log").read_text(errors="replace")[-4000:])
        server.stop()


def test_a_crawl_of_a_new_site_stores_its_stories_and_not_its_page_of_chrome_and_pitch(crawl_world) -> None:
    env, (dashboard, *stories) = crawl_world
    folder = env["PWD"]
    output = newsdedup(env, "crawl", SOURCE, cwd=folder).stdout
    counts = summary_of(output)
    assert (counts["created"], counts["rejected"], counts["errors"]) == (2, 1, 0), output
    records = [json.loads(line) for line in newsdedup(env, "feed", cwd=folder).stdout.splitlines()]
    urls = sorted(url for r in records for url in r["urls"])
    assert urls == sorted(stories) and dashboard not in urls
    assert all(PITCH in r["text"] for r in records)  # the feed keeps each article's text whole


def test_a_new_sources_only_short_article_is_in_the_feed_when_the_crawl_command_returns(crawl_world) -> None:
    env, _ = crawl_world
    folder = env["PWD"]
    output = newsdedup(env, "crawl", "quiet-weekly", cwd=folder).stdout
    counts = summary_of(output)
    assert (counts["created"], counts["rejected"], counts["errors"]) == (1, 0, 0), output
    [record] = [json.loads(line) for line in newsdedup(env, "feed", cwd=folder).stdout.splitlines()]
    assert record["title"] == STORIES[3][0]


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.timeout(300)
@pytest.mark.parametrize("crawl_world", ["distributed"], indirect=True)  # an embedded crawl always waits
def test_a_crawl_nobody_waits_for_has_its_held_pages_judged_by_the_workers_once_it_is_over(
    crawl_world,
) -> None:
    env, _ = crawl_world
    assert "NEWSDEDUP_REDIS_URL" in env
    import time

    from newsdedup.workers.sweeper import CRAWL_QUIET, SWEEP_EVERY_SECONDS

    folder = env["PWD"]
    newsdedup(env, "crawl", "quiet-weekly", "--no-wait", cwd=folder)  # as scheduled and API crawls run
    deadline = time.monotonic() + CRAWL_QUIET.total_seconds() + 4 * SWEEP_EVERY_SECONDS + 30
    while True:
        lines = newsdedup(env, "feed", cwd=folder).stdout.splitlines()
        if lines:
            break
        assert time.monotonic() < deadline, "the held page was never released"
        time.sleep(2)
    [record] = [json.loads(line) for line in lines]
    assert record["title"] == STORIES[3][0]
