"""Embedded mode keeps the same promise: a crawl killed mid-way loses nothing that the next
crawl does not fetch again, and a reader of the SQLite store (the API) never fails a page."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
from api_factories import live_api
from faultkit import REPO, count_store, slow_sites, story_urls, write_sources
from helpers import NEWSDEDUP, newsdedup, newsdedup_env

from newsdedup.config import Settings
from newsdedup.siteserver import serve_sites

STORIES, COPIES = 30, 20


def stored_urls(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM urls")).scalar_one())
    except Exception:  # noqa: BLE001 - no table yet
        return 0
    finally:
        engine.dispose()


def test_a_killed_embedded_crawl_is_completed_by_the_next_one_while_the_api_reads(tmp_path: Path) -> None:
    layout = slow_sites(tmp_path / "www", stories=STORIES, copies=COPIES, delay=0.05)
    servers = serve_sites(tmp_path / "www")
    database_url = f"sqlite:///{tmp_path / 'store.db'}"
    try:
        base_urls = {site: server.base_url for site, server in servers.items()}
        env = newsdedup_env()
        env.update(
            NEWSDEDUP_DATABASE_URL=database_url,
            NEWSDEDUP_CONFIG=str(write_sources(base_urls, tmp_path / "sources.yaml")),
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSDEDUP_AUTOTHROTTLE="0",
            NEWSDEDUP_CONCURRENT_REQUESTS_PER_DOMAIN="1",
            PYTHONUNBUFFERED="1",
        )
        crawl = subprocess.Popen(
            [*NEWSDEDUP, "crawl"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while stored_urls(database_url) < 10:
            assert crawl.poll() is None, "the crawl ended before it was killed"
            assert time.monotonic() < deadline, "the crawl stored nothing"
            time.sleep(0.05)
        crawl.send_signal(signal.SIGKILL)
        crawl.wait()
        assert stored_urls(database_url) < STORIES + COPIES

        # The next crawl runs while the API reads the store as fast as it can.
        errors: list[str] = []
        reads = 0
        stop = threading.Event()
        with live_api(Settings(database_url=database_url)) as api:

            def read() -> None:
                nonlocal reads
                with httpx.Client(base_url=api.base_url, timeout=30) as client:
                    while not stop.is_set():
                        for path in ("/v1/feed?limit=1000", "/metrics", "/healthz"):
                            answer = client.get(path)
                            reads += 1
                            if answer.status_code != 200:
                                errors.append(f"{path}: {answer.status_code} {answer.text[:200]}")

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            again = newsdedup(env, "crawl", check=False, cwd=REPO, timeout=300)
            stop.set()
            reader.join(timeout=30)
        assert again.returncode == 0, again.stderr[-3000:]
        assert " 0 errors" in again.stdout, again.stdout + again.stderr[-3000:]
        assert reads > 10 and errors == [], errors[:5]
        counted = count_store(database_url, story_urls(layout, base_urls))
        assert counted.missing_urls == 0 and counted.urls == STORIES + COPIES, counted
        assert counted.articles == STORIES and counted.split_stories == 0 and counted.mixed_articles == 0, (
            counted
        )
    finally:
        for server in servers.values():
            server.stop()
