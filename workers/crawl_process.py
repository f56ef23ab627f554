"""One crawl of one source as a child process of a Celery worker.

Scrapy's Twisted reactor cannot be restarted, so a long-lived worker never runs Scrapy
itself: ``newsdedup.crawl_source`` runs ``python -m workers.crawl_process SOURCE CRAWL_ID``
(which crawls with the distributed sink and returns without waiting for the pages, as
``newsdedup crawl --no-wait`` does) while holding the source's crawl lock.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Sequence

from config import Settings, load_settings, load_sources
from config.sources import ConfigError
from workers.locks import crawl_lock, redis_client

log = logging.getLogger(__name__)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as NEWSDEDUP_* variables, so the child sees exactly what the worker has."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[f"NEWSDEDUP_{name.upper()}"] = str(value)
    return env


def run_source_crawl(settings: Settings, source_name: str, crawl_id: str,
                     extra_env: dict[str, str] | None = None) -> str:
    """Crawl one source in a child process unless it is being crawled already. Returns
    "crawled", "skipped: ..." or "failed: ..." (also logged)."""
    import os

    assert settings.redis_url, "crawl_source needs NEWSDEDUP_REDIS_URL"
    client = redis_client(settings.redis_url)
    lock = crawl_lock(client, source_name, timeout=settings.crawl_time_limit + 60)
    try:
        if not lock.acquire():
            log.info("source %s is being crawled already: skipped", source_name)
            return "skipped: a crawl of this source is running"
        started = time.monotonic()
        env = {**os.environ, **settings_env(settings), **(extra_env or {})}
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "workers.crawl_process", source_name, crawl_id],
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


def main(argv: Sequence[str]) -> int:
    """``python -m workers.crawl_process SOURCE CRAWL_ID``: crawl, stage, send; don't wait."""
    from workers.distributed import run_distributed_crawl

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if len(argv) != 2:
        sys.stderr.write("usage: python -m workers.crawl_process SOURCE CRAWL_ID\n")
        return 2
    source_name, crawl_id = argv
    settings = load_settings()
    try:
        sources = {source.name: source for source in load_sources(settings.config)}
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    if source_name not in sources:
        sys.stderr.write(f"unknown source {source_name!r}\n")
        return 2
    summary = run_distributed_crawl(settings, [sources[source_name]], crawl_id, wait=False)
    sys.stderr.write(f"crawl {crawl_id} of {source_name}: {summary.line()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
