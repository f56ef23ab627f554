"""Distributed mode: a crawl writes the archive in the crawling process, and `newsdedup
reprocess` fans the archived pages out to real workers, into a new PostgreSQL store."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest
from faultkit import start_worker
from helpers import newsdedup_env, summary_of
from sqlalchemy.engine import make_url
from test_archive import comparable, feed, newsdedup, records
from test_distributed import kill_group, wait_ready

from newsdedup.config import Settings
from newsdedup.demo import DemoSites
from newsdedup.workers.app import create_celery_app

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[1]


def test_a_distributed_crawl_is_archived_and_reprocessed_by_the_workers(
    tmp_path: Path, redis_url: str, postgres_url: str, postgres_admin_url: str
) -> None:
    worker = None
    created: str | None = None
    with DemoSites(tmp_path) as sites:
        env = newsdedup_env()
        env.update(
            NEWSDEDUP_DATABASE_URL=postgres_url,
            NEWSDEDUP_REDIS_URL=redis_url,
            NEWSDEDUP_CONFIG=str(sites.sources_file),
            NEWSDEDUP_LSH_BASENAME="archive-test",
            NEWSDEDUP_ARCHIVE_DIR=str(tmp_path / "archive"),
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
        )
        log = open(tmp_path / "worker.log", "wb")
        try:
            worker = start_worker(env, "a1@%h", log, 2)
            settings = Settings(redis_url=redis_url, database_url=postgres_url, lsh_basename="archive-test")
            wait_ready(create_celery_app(settings), ["a1"])

            sites.publish(1)
            first = summary_of(newsdedup(env, "crawl").stdout)
            sites.publish(2)
            second = summary_of(newsdedup(env, "crawl").stdout)
            responses = [r for r in records(tmp_path / "archive") if r["type"] == "response"]
            assert len(responses) == first["fetched"] + second["fetched"]
            crawled = feed(env, postgres_url)

            result = newsdedup(env, "reprocess")
            created = result.stdout.strip().splitlines()[-1].removeprefix("store: ")
            assert make_url(created).database != make_url(postgres_url).database
            assert summary_of(result.stdout)["fetched"] == len(responses)
            # The workers did the work into the new store, whose feed is the crawl's again
            # (two workers may order same-moment pages differently: compare without seqs).
            assert sorted(c[1:] for c in comparable(feed(env, created))) == sorted(
                c[1:] for c in comparable(crawled)
            )
            assert feed(env, postgres_url) == crawled
            assert b"newsdedup.reprocess_page" in (tmp_path / "worker.log").read_bytes()
        finally:
            if worker is not None:
                kill_group(worker)
            log.close()
            sys.stderr.write((tmp_path / "worker.log").read_text(errors="replace")[-4000:])
            if created:
                with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{make_url(created).database}" WITH (FORCE)')
