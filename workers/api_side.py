"""Distributed mode as the API process uses it: queue a crawl, read where its pages are.

The API sends ``newsdedup.crawl_source`` by name and reads the staging table; it runs no task.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from celery import Celery

from newsdedup.config import Settings, load_sources, select_sources
from newsdedup.store.staging import Staging
from newsdedup.workers.app import create_celery_app

log = logging.getLogger(__name__)


def start_crawl(settings: Settings, source_names: Sequence[str], app: Celery | None = None) -> str:
    """Queue one ``newsdedup.crawl_source`` task per source (all when none are named); returns
    the crawl id their pages are staged under. For ``POST /v1/crawls``. Raises ConfigError on
    a bad sources file or an unknown source name."""
    names = [source.name for source in select_sources(load_sources(settings.config), source_names)]
    app = app or create_celery_app(settings)
    crawl_id = uuid.uuid4().hex
    for name in names:
        app.send_task("newsdedup.crawl_source", args=[name, crawl_id])
    log.info("crawl %s queued: %s", crawl_id, ", ".join(names))
    return crawl_id


def crawl_status(settings: Settings, crawl_id: str) -> dict[str, object]:
    """Where the pages of a crawl are (for the API or an operator)."""
    staging = Staging.open(settings.database_url, migrate=False)
    try:
        counts = staging.counts(crawl_id)
        return {
            "crawl_id": crawl_id,
            "pending": counts.pending,
            "done": counts.done,
            "failed": counts.failed,
            "outcomes": counts.outcomes,
            "failures": [{"url": u, "reason": r} for u, r in staging.failed_pages(crawl_id)[:100]],
        }
    finally:
        staging.close()
