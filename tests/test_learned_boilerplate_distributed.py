"""Learned boilerplate in distributed mode: real `newsdedup worker` processes on Redis and
PostgreSQL count a source's lines exactly while they create its articles at the same time, and
decide its later pages as embedded mode does."""

from __future__ import annotations

import pytest
from boilerplate_site import PITCH, dashboard_page
from test_dedup_shared_lead import AGENCY, TAIL_LONGER, TAIL_TRADE
from test_distributed import distinct_story, env, page, settings, staging, wait_ready, workers

from newsdedup.pipeline.summary import CrawlSummary
from newsdedup.store import Store
from newsdedup.workers.app import create_celery_app
from newsdedup.workers.crawl_side import wait_for_crawl
from newsdedup.workers.sending import PageSender

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
__all__ = ["env", "settings", "staging", "workers"]  # fixtures, used by name

SOURCE = "lantern-gazette"


def run(app, staging, crawl_id: str, pages) -> CrawlSummary:  # type: ignore[no-untyped-def]
    ids = [staging.stage(p)[0] for p in pages]
    sender = PageSender(app)
    assert sender.send_many([(i, p.url) for i, p in zip(ids, pages)]) == ids
    staging.mark_sent(ids)
    return wait_for_crawl(staging, sender, crawl_id, CrawlSummary(pages_fetched=len(pages)), timeout=120)


def test_workers_learn_a_sources_pitch_together_and_then_refuse_a_page_of_chrome_and_pitch(
    settings, staging, workers
) -> None:
    app = create_celery_app(settings)
    workers("w1")
    workers("w2")
    wait_ready(app, ["w1", "w2"])

    stories = [
        page(
            f"https://lantern.example/news/{n}.html",
            SOURCE,
            distinct_story(n).replace("</article>", f"<p>{PITCH}</p></article>"),
            "first",
        )
        for n in range(12)
    ]
    summary = run(app, staging, "first", stories)  # four processes at once
    assert (summary.created, summary.errors) == (12, 0), summary

    briefs = [
        page(f"https://lantern.example/brief/{n}.html", SOURCE, html, "second")
        for n, html in enumerate(
            f"<html><body><article><h1>Ferries halted</h1><p>{AGENCY} {tail}</p><p>{PITCH}</p></article></body></html>"
            for tail in (TAIL_TRADE, TAIL_LONGER)
        )
    ]
    dashboard = dashboard_page(SOURCE)
    dashboard = page(dashboard.url, SOURCE, dashboard.html, "second")
    summary = run(app, staging, "second", [dashboard, *briefs])
    assert (summary.created, summary.rejected, summary.updated, summary.errors) == (2, 1, 0, 0), summary

    store = Store.open(settings.database_url, migrate=False)
    try:
        [line] = store.boilerplate.lines(SOURCE)
        # Every one of the 14 articles counted once, although four processes wrote at once.
        assert line.sample == PITCH and line.pages == 14
        assert len(store.feed_reader.feed()) == 14
    finally:
        store.close()
