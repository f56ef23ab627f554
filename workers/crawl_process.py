"""One crawl of one source as a child process of a Celery worker.

Scrapy's Twisted reactor cannot be restarted, so a long-lived worker never runs Scrapy
itself: ``newsdedup.crawl_source`` runs ``newsdedup crawl SOURCE --no-wait --crawl-id ID``
(crawl with the distributed sink, return without waiting for the pages) while holding the
source's crawl lock.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from config import Settings
from workers.locks import crawl_lock, redis_client

log = logging.getLogger(__name__)


def run_source_crawl(settings: Settings, source_name: str, crawl_id: str,
                     extra_env: dict[str, str] | None = None) -> str:
    """Crawl one source in a child process unless it is being crawled already. Returns
    "crawled", "skipped: ..." or "failed: ..." (also logged)."""
    assert settings.redis_url, "crawl_source needs NEWSDEDUP_REDIS_URL"
    client = redis_client(settings.redis_url)
    lock = crawl_lock(client, source_name, timeout=settings.crawl_time_limit + 60)
    try:
        if not lock.acquire():
            log.info("source %s is being crawled already: skipped", source_name)
            return "skipped: a crawl of this source is running"
        started = time.monotonic()
        env = {**settings.crawl_environment(os.environ), **(extra_env or {})}
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "newsdedup", "crawl", source_name, "--no-wait", "--crawl-id", crawl_id],
                env=env, timeout=settings.crawl_time_limit, check=False,
            )
        except subprocess.TimeoutExpired:
            log.error("crawl of %s killed after %ss", source_name, settings.crawl_time_limit)
            return f"failed: killed after {settings.crawl_time_limit}s"
        elapsed = time.monotonic() - started
        if completed.returncode != 0:
            log.error("crawl of %s exited with %s after %.1fs", source_name, completed.returncode, elapsed)
            return f"failed: exit status {completed.returncode}"
        log.info("crawl %s of %s done in %.1fs", crawl_id, source_name, elapsed)
        return "crawled"
    finally:
        try:
            if lock.owned():
                lock.release()
        finally:
            client.close()
