"""One crawl of one source as a child process of a Celery worker.

Scrapy's Twisted reactor cannot be restarted, so a long-lived worker never runs Scrapy
itself: ``newsdedup.crawl_source`` runs ``newsdedup crawl SOURCE --no-wait --crawl-id ID``
(crawl with the distributed sink, return without waiting for the pages; started by
pipeline/crawl_child.py, as the API's embedded crawls are) while holding the source's
crawl lock.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time

from newsdedup.config import Settings
from newsdedup.pipeline.crawl_child import start_crawl_process
from newsdedup.workers.locks import crawl_lock, redis_client

log = logging.getLogger(__name__)

# The crawl stops itself at NEWSDEDUP_CRAWL_TIME_LIMIT (Scrapy's CLOSESPIDER_TIMEOUT), then
# stages what it holds; it is killed only if it is still there this much later.
KILL_GRACE_SECONDS = 60


def kill_after(settings: Settings) -> int:
    return settings.crawl_time_limit + KILL_GRACE_SECONDS


def run_source_crawl(
    settings: Settings, source_name: str, crawl_id: str, extra_env: dict[str, str] | None = None
) -> str:
    """Crawl one source in a child process unless it is being crawled already. Returns
    "crawled", "skipped: ..." or "failed: ..." (also logged)."""
    assert settings.redis_url, "crawl_source needs NEWSDEDUP_REDIS_URL"
    client = redis_client(settings.redis_url)
    lock = crawl_lock(client, source_name, timeout=kill_after(settings) + 60)
    try:
        if not lock.acquire():
            log.info("source %s is being crawled already: skipped", source_name)
            return "skipped: a crawl of this source is running"
        started = time.monotonic()
        env = {**settings.crawl_environment(os.environ), **(extra_env or {})}
        process = start_crawl_process(settings, [source_name], crawl_id, env, wait=False)
        try:
            returncode = process.wait(timeout=kill_after(settings))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            log.error("crawl of %s killed after %ss", source_name, kill_after(settings))
            return f"failed: killed after {kill_after(settings)}s"
        elapsed = time.monotonic() - started
        if returncode != 0:
            log.error("crawl of %s exited with %s after %.1fs", source_name, returncode, elapsed)
            return f"failed: exit status {returncode}"
        log.info("crawl %s of %s done in %.1fs", crawl_id, source_name, elapsed)
        return "crawled"
    finally:
        try:
            if lock.owned():
                lock.release()
        finally:
            client.close()
