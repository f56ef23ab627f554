"""A real distributed crawl: Scrapy against loopback sites, pages through Redis to workers.

Round 1 runs `newsdedup crawl` in distributed mode (the command waits for the workers); round 2
is started the way the API starts one (``start_crawl`` → ``newsdedup.crawl_source`` tasks, each
crawling in a child process of a worker).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from faultkit import start_worker
from helpers import newsdedup, newsdedup_env
from test_distributed import kill_group, wait_ready

from newsdedup.config import Settings
from newsdedup.demo import SITES, DemoSites
from newsdedup.store import Store
from newsdedup.store.staging import Staging
from newsdedup.workers.api_side import start_crawl
from newsdedup.workers.app import create_celery_app
from newsdedup.workers.locks import crawl_lock_key

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def world(tmp_path: Path, redis_url: str, postgres_url: str):
    processes: list[subprocess.Popen[bytes]] = []
    with DemoSites(tmp_path) as sites:
        try:
            env = newsdedup_env()
            env.update(
                NEWSDEDUP_DATABASE_URL=postgres_url,
                NEWSDEDUP_REDIS_URL=redis_url,
                NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
                NEWSDEDUP_CONFIG=str(sites.sources_file),
                NEWSDEDUP_LSH_BASENAME="crawl-test",
            )
            for name in ("c1", "c2"):
                log = open(tmp_path / f"{name}.log", "wb")
                processes.append(start_worker(env, f"{name}@%h", log, 2))
            yield env, sites.publish
        finally:
            for process in processes:
                kill_group(process)
            for name in ("c1", "c2"):
                if (tmp_path / f"{name}.log").exists():
                    sys.stderr.write(
                        f"--- {name} ---\n{(tmp_path / f'{name}.log').read_text(errors='replace')[-4000:]}\n"
                    )


def test_a_distributed_crawl_from_the_command_and_from_the_api(world) -> None:
    env, publish = world
    settings = Settings(
        redis_url=env["NEWSDEDUP_REDIS_URL"],
        database_url=env["NEWSDEDUP_DATABASE_URL"],
        config=Path(env["NEWSDEDUP_CONFIG"]),
        lsh_basename="crawl-test",
    )
    wait_ready(create_celery_app(settings), ["c1", "c2"])

    publish(1)
    started = time.monotonic()
    result = newsdedup(env, "crawl", check=False, cwd=REPO, timeout=180)
    assert result.returncode == 0, result.stderr
    sys.stderr.write(f"round 1 (command, waited): {time.monotonic() - started:.1f}s: {result.stdout}")
    assert "5 articles created" in result.stdout and "3 duplicates" in result.stdout, result.stdout
    assert "0 errors" in result.stdout, result.stdout + result.stderr[-3000:]

    publish(2)
    started = time.monotonic()
    crawl_id = start_crawl(settings, [])
    client = redis.Redis.from_url(settings.redis_url)  # type: ignore[arg-type]
    staging = Staging.open(settings.database_url, migrate=False)
    try:
        deadline = time.monotonic() + 120
        quiet = 0
        while quiet < 3:  # three polls in a row: no crawl running, nothing pending
            assert time.monotonic() < deadline, "the API-started crawl did not finish"
            time.sleep(1)
            running = any(client.exists(crawl_lock_key(name)) for name in SITES)
            counts = staging.counts(crawl_id)
            quiet = quiet + 1 if counts.total and not running and counts.pending == 0 else 0
        sys.stderr.write(f"round 2 (API, crawl_source tasks): {time.monotonic() - started:.1f}s: {counts}\n")
        assert counts.outcomes.get("updated") == 2, counts
        assert counts.failed == 0 and "created" not in counts.outcomes, counts
    finally:
        staging.close()
        client.close()
    store = Store.open(settings.database_url, migrate=False)
    try:
        records = store.feed_reader.feed()
    finally:
        store.close()
    assert len(records) == 5
    assert sorted(r["version"] for r in records) == [1, 1, 1, 2, 2]
