"""The source-health tables on SQLite and PostgreSQL, and per-source counts arriving from real
Celery workers in distributed mode."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from faultkit import start_worker
from helpers import newsdedup, newsdedup_env
from test_distributed import kill_group, wait_ready
from test_source_health import TOKEN, build_site

from newsdedup.config import Settings
from newsdedup.siteserver import serve_sites
from newsdedup.store import Store
from newsdedup.store.source_health import BUCKETS, HealthRecorder, SourceHealth

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def health(store: Store) -> SourceHealth:
    return SourceHealth(store.engine)


def test_counts_from_several_writers_add_up_and_old_crawls_fold_into_the_totals(health: SourceHealth) -> None:
    health.crawl_started(["wire", "daily"], "crawl-1")
    recorders = [health.recorder() for _ in range(4)]

    def work(recorder) -> None:  # type: ignore[no-untyped-def]
        for _ in range(50):
            recorder.count("wire", "crawl-1", "fetched")
            recorder.count("wire", "crawl-1", "created")
            recorder.count("daily", "crawl-1", "fetch_failed", "blocked")
            recorder.observe("decision", 0.003)
            recorder.flush()

    threads = [threading.Thread(target=work, args=(r,)) for r in recorders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    health.crawl_finished({"wire": "finished", "daily": "finished"}, "crawl-1")

    tallies = health.crawl_tallies({"wire": "crawl-1", "daily": "crawl-1"})
    assert tallies["wire"][("fetched", "")] == 200 and tallies["wire"][("created", "")] == 200
    assert tallies["daily"][("fetch_failed", "blocked")] == 200
    times = health.times()
    assert times["wire"].last_crawl_outcome == "finished" and times["wire"].last_article_at is not None
    assert times["daily"].last_article_at is None and times["daily"].last_success_at is None
    counts, seconds = health.timings()["decision"]
    assert sum(counts) == 200 and counts[BUCKETS.index(0.005)] == 200 and seconds == pytest.approx(0.6)

    # A second crawl; then, days later, the first one's hourly rows are folded away.
    health.crawl_started(["wire"], "crawl-2")
    recorder = health.recorder()
    recorder.count("wire", "crawl-2", "not_modified", pages=7)
    recorder.close()
    later = datetime.now(UTC) + timedelta(days=3)
    assert health.fold_old_counts(now=later) > 0
    assert health.total_tallies()["wire"][("fetched", "")] == 200  # nothing lost from the totals
    assert health.crawl_tallies({"wire": "crawl-2"})["wire"][("not_modified", "")] == 7
    assert "wire" not in health.window_tallies(later - timedelta(hours=24))
    # daily's last crawl is still crawl-1: its rows stay for its "last crawl" counts.
    assert health.crawl_tallies({"daily": "crawl-1"})["daily"][("fetch_failed", "blocked")] == 200
    assert health.fold_old_counts(now=later) == 0


def test_a_store_that_refuses_the_write_keeps_the_counts_for_the_next(
    sqlite_url: str, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine

    with Store.open(sqlite_url) as store:
        health = SourceHealth(store.engine)
        recorder = HealthRecorder(create_engine(f"sqlite:///{tmp_path / 'no-tables.db'}"))
        recorder.count("wire", "c1", "created")
        recorder.observe("fetch", 0.2)
        assert recorder.flush() is False  # no such table: kept in memory
        recorder.engine = store.engine
        assert recorder.flush() is True
        assert health.total_tallies()["wire"][("created", "")] == 1
        assert health.times()["wire"].last_article_at is not None
        assert sum(health.timings()["fetch"][0]) == 1


def test_a_crawl_killed_before_its_end_is_not_running_for_ever(sqlite_url: str) -> None:
    from newsdedup.config.sources import Source
    from newsdedup.source_status import source_statuses

    with Store.open(sqlite_url) as store:
        health = SourceHealth(store.engine)
        started = datetime.now(UTC) - timedelta(hours=2)
        health.crawl_started(["wire"], "crawl-1", at=started)  # and never finished
        wire = [Source(name="wire", feeds=("https://wire.example/feed.xml",))]
        soon = source_statuses(health, wire, now=started + timedelta(minutes=5), crawl_time_limit=3600)
        assert soon[0]["last_crawl"]["outcome"] == "running"
        late = source_statuses(health, wire, now=started + timedelta(hours=2), crawl_time_limit=3600)
        assert late[0]["last_crawl"]["outcome"].startswith("lost: no end recorded")


# --- distributed mode: counts come from the workers -------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
def test_workers_report_per_source_outcomes(tmp_path: Path, redis_url: str, postgres_url: str) -> None:
    from fastapi.testclient import TestClient

    from newsdedup.api import create_app

    sites = tmp_path / "sites"
    build_site(sites / "healthy", "healthy", stories=3, seed=1)
    build_site(sites / "walled", "walled", stories=3, seed=2)
    (sites / "walled" / "_routes.json").write_text(json.dumps({"/news/*": {"status": 403}}))
    servers = serve_sites(sites)
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        yaml.safe_dump({"sources": [{"name": n, "feeds": [s.url("/feed.xml")]} for n, s in servers.items()]})
    )
    env = newsdedup_env()
    env.update(
        NEWSDEDUP_DATABASE_URL=postgres_url,
        NEWSDEDUP_REDIS_URL=redis_url,
        NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
        NEWSDEDUP_CONFIG=str(sources),
        NEWSDEDUP_LSH_BASENAME="health-test",
        NEWSDEDUP_RETRY_TIMES="0",
        NEWSDEDUP_ARCHIVE_DIR=str(tmp_path / "archive"),
    )
    log = open(tmp_path / "worker.log", "wb")
    worker = start_worker(env, "h1@%h", log, 2)
    settings = Settings(
        redis_url=redis_url,
        database_url=postgres_url,
        config=sources,
        lsh_basename="health-test",
        api_token=TOKEN,
    )
    try:
        from newsdedup.workers.app import create_celery_app as celery_app

        wait_ready(celery_app(settings), ["h1"])
        crawl = newsdedup(env, "crawl", check=False, cwd=REPO, timeout=180)
        assert crawl.returncode == 0, crawl.stderr[-3000:]
        assert "3 articles created" in crawl.stdout, crawl.stdout

        with TestClient(create_app(settings)) as api:
            # The workers write their counts every few seconds: wait for them to land.
            deadline = time.monotonic() + 60
            while True:
                response = api.get("/v1/sources", headers={"Authorization": f"Bearer {TOKEN}"})
                items = {item["source"]: item for item in response.json()["items"]}
                if items["healthy"]["last_crawl"]["counts"]["created"] == 3 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            healthy, walled = items["healthy"], items["walled"]
            assert healthy["state"] == "ok", healthy
            assert healthy["last_crawl"]["counts"] == {
                "fetched": 3,
                "not_modified": 0,
                "created": 3,
                "updated": 0,
                "duplicates": 0,
                "unchanged": 0,
                "rejected": 0,
                "failed": 0,
                "robots_denied": 0,
            }
            assert healthy["last_article_at"] is not None  # written by a worker
            assert walled["state"] == "blocked" and walled["last_crawl"]["failures"] == {"blocked": 3}
            metrics = api.get("/metrics").text
            assert 'newsdedup_source_pages_total{outcome="created",source="healthy"} 3.0' in metrics
            count = next(
                line
                for line in metrics.splitlines()
                if line.startswith("newsdedup_decision_duration_seconds_count")
            )
            assert float(count.split()[-1]) >= 3  # timed in the workers
    finally:
        kill_group(worker)
        for server in servers.values():
            server.stop()
        sys.stderr.write((tmp_path / "worker.log").read_text(errors="replace")[-4000:])
