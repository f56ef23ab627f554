"""Outages, restarts and kills during real distributed crawls: nothing lost, nothing doubled.

PostgreSQL and Redis are reached through fault relays the tests own (tests/faultkit.py): a
cut resets every connection and refuses new ones. Two `newsdedup worker` processes and the
`newsdedup crawl` command run for real against five loopback news sites (60 stories, 40
syndicated copies). Each test counts what the store holds afterwards: every URL stored, each
story one article, no article holding two stories.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from faultkit import REPO, Cluster, FaultRelay, Layout, count_store, slow_sites, story_urls, write_sources
from helpers import NEWSDEDUP, newsdedup, newsdedup_env
from sqlalchemy import create_engine, text

from newsdedup.siteserver import SiteServer, serve_sites

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

STORIES, COPIES = 60, 40
PAGES = STORIES + COPIES


@dataclass
class World:
    env: dict[str, str]
    direct_database_url: str  # the store, not through the relay (for counting)
    pg: FaultRelay | None  # the relays a test cuts (None: reached directly)
    redis_relay: FaultRelay | None
    layout: Layout
    base_urls: dict[str, str]
    cluster: Cluster

    def crawl(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*NEWSDEDUP, "crawl"],
            env=self.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self.crawl_log.open("w"),
            text=True,
        )

    @property
    def crawl_log(self) -> Path:
        return self.cluster.logs / "crawl.log"

    def states(self) -> str:
        """How the staged pages stand, for a failure message."""
        engine = create_engine(self.direct_database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT state, sent_at IS NOT NULL, claimed_until IS NOT NULL, count(*) FROM staged_pages "
                        "GROUP BY 1, 2, 3"
                    )
                ).all()
            return ", ".join(f"{state} sent={sent} leased={leased}: {n}" for state, sent, leased, n in rows)
        finally:
            engine.dispose()

    def staged(self, state: str | None = None) -> int:
        """Pages staged (in ``state``), read directly from PostgreSQL (never through the relay)."""
        engine = create_engine(self.direct_database_url)
        try:
            with engine.connect() as conn:
                query = "SELECT count(*) FROM staged_pages" + (" WHERE state = :state" if state else "")
                return int(conn.execute(text(query), {"state": state}).scalar_one())
        except Exception:  # noqa: BLE001 - the table may not exist yet
            return 0
        finally:
            engine.dispose()

    def wait_until(
        self, condition: Callable[[], bool], crawl: subprocess.Popen[str], timeout: float = 120
    ) -> bool:
        """Wait for ``condition``; False if the crawl ended first."""
        deadline = time.monotonic() + timeout
        while not condition():
            if crawl.poll() is not None:
                return False
            assert time.monotonic() < deadline, (
                f"the crawl made no progress: {self.states()}\n{self.crawl_log.read_text()[-5000:]}"
            )
            time.sleep(0.05)
        return True

    def count(self):  # type: ignore[no-untyped-def]
        return count_store(self.direct_database_url, story_urls(self.layout, self.base_urls))


def crawl_env(
    database_url: str, redis_url: str, base_urls: dict[str, str], tmp_path: Path, basename: str
) -> dict[str, str]:
    """The environment of the crawl and worker processes: this store, this Redis, the sites."""
    env = newsdedup_env()
    env.update(
        NEWSDEDUP_DATABASE_URL=database_url,
        NEWSDEDUP_REDIS_URL=redis_url,
        NEWSDEDUP_CONFIG=str(write_sources(base_urls, tmp_path / "sources.yaml")),
        NEWSDEDUP_LSH_BASENAME=basename,
        NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
        NEWSDEDUP_ARCHIVE_DIR=str(tmp_path / "archive"),
        NEWSDEDUP_AUTOTHROTTLE="0",
        NEWSDEDUP_CONCURRENT_REQUESTS_PER_DOMAIN="2",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def world(tmp_path: Path, redis_url: str, postgres_url: str) -> Iterator[World]:
    pg = FaultRelay("127.0.0.1", 5432)
    redis_host, redis_port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    redis_relay = FaultRelay(redis_host, int(redis_port))
    layout = slow_sites(tmp_path / "www")
    servers = serve_sites(tmp_path / "www")
    base_urls = {site: server.base_url for site, server in servers.items()}
    env = crawl_env(
        pg.url_for(postgres_url, 5432),
        redis_relay.url_for(redis_url, int(redis_port)),
        base_urls,
        tmp_path,
        "outages",
    )
    cluster = Cluster(env, tmp_path)
    try:
        yield World(env, postgres_url, pg, redis_relay, layout, base_urls, cluster)
    finally:
        cluster.stop()
        for server in servers.values():
            server.stop()
        pg.close()
        redis_relay.close()
        sys.stderr.write(cluster.log_tail())


def assert_all_stored(world: World, result: subprocess.CompletedProcess[str] | tuple[int, str, str]) -> None:
    returncode, _stdout, stderr = (
        result if isinstance(result, tuple) else (result.returncode, result.stdout, result.stderr)
    )
    assert returncode == 0, stderr[-3000:]
    counted = world.count()
    assert counted.missing_urls == 0, counted  # no page lost
    assert counted.urls == PAGES, counted
    assert counted.stories_stored == STORIES, counted  # no story lost
    assert counted.split_stories == 0, counted  # no story doubled (two articles)
    assert counted.mixed_articles == 0, counted  # no two stories merged
    assert counted.articles == STORIES, counted


def finish(world: World, crawl: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    """The crawl's exit code, standard output and log, once it ended."""
    stdout, _ = crawl.communicate(timeout=timeout)
    return crawl.returncode, stdout, world.crawl_log.read_text()


def test_a_crawl_rides_out_a_postgres_outage_a_redis_outage_and_worker_kills(world: World) -> None:
    from api_factories import live_api

    from newsdedup.config import Settings

    assert world.pg is not None and world.redis_relay is not None
    world.cluster.start("w1")
    world.cluster.start("w2")
    api_settings = Settings(
        database_url=world.env["NEWSDEDUP_DATABASE_URL"],
        redis_url=world.env["NEWSDEDUP_REDIS_URL"],
        lsh_basename="outages",
    )
    with live_api(api_settings) as api:
        crawl = world.crawl()
        faults = []
        # PostgreSQL goes away while pages are being fetched and staged...
        if world.wait_until(lambda: world.staged() >= 10, crawl):
            outage = world.pg.outage(5)
            faults.append("postgres")
            time.sleep(2)
            world.cluster.kill("w1")  # ... a worker dies during the outage ...
            faults.append("kill during the outage")
            during = httpx.get(f"{api.base_url}/v1/feed", timeout=30)
            assert during.status_code == 503 and during.headers.get("retry-after"), during.text
            outage.join()
            world.cluster.start("w1")
            # The API recovers by itself.
            deadline = time.monotonic() + 15
            while httpx.get(f"{api.base_url}/v1/feed", timeout=30).status_code != 200:
                assert time.monotonic() < deadline, "the API did not recover after the outage"
                time.sleep(0.2)
        # ... then Redis goes away while the workers decide, and another worker dies.
        if world.wait_until(lambda: world.staged("done") >= 40, crawl):
            outage = world.redis_relay.outage(5)
            faults.append("redis")
            world.cluster.kill("w2")
            faults.append("kill")
            during = httpx.get(f"{api.base_url}/healthz", timeout=30)
            assert during.status_code == 503 and "redis" in during.json()["failed"], during.text
            outage.join()
            world.cluster.start("w2")
        result = finish(world, crawl)
    assert faults == ["postgres", "kill during the outage", "redis", "kill"], (
        "the crawl ended before its faults"
    )
    assert_all_stored(world, result)
    assert f"{PAGES} pages fetched" in result[1] and " 0 errors" in result[1], result[1]


def test_the_crawl_process_killed_mid_way_is_completed_by_the_next_crawl_without_beat(world: World) -> None:
    world.cluster.start("w1")
    world.cluster.start("w2")
    crawl = world.crawl()
    assert world.wait_until(lambda: world.staged() >= 30, crawl), "the crawl ended before it was killed"
    crawl.send_signal(signal.SIGKILL)
    crawl.wait()
    staged = world.staged()
    assert staged < PAGES
    # Whatever it had staged is processed by the workers alone (no beat runs here).
    deadline = time.monotonic() + 60
    while world.staged("pending"):
        assert time.monotonic() < deadline, "pages the killed crawl staged were never processed"
        time.sleep(0.2)
    assert world.count().urls >= staged
    # Running the crawl again completes it; nothing is doubled.
    again = newsdedup(world.env, "crawl", check=False, cwd=REPO, timeout=300)
    assert_all_stored(world, again)


# --- Redis restarted without its data --------------------------------------------------------


class PrivateRedis:
    """A redis-server of the test's own (no persistence), so that it can be killed and restarted."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def test_a_redis_restarted_without_its_data_loses_nothing_and_the_index_is_rebuilt(
    tmp_path: Path, postgres_url: str
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary")
    private = PrivateRedis(tmp_path)
    private.start()
    layout = slow_sites(tmp_path / "www")
    servers: dict[str, SiteServer] = serve_sites(tmp_path / "www")
    base_urls = {site: server.base_url for site, server in servers.items()}
    env = crawl_env(postgres_url, f"redis://127.0.0.1:{private.port}/0", base_urls, tmp_path, "restart")
    cluster = Cluster(env, tmp_path)
    world = World(env, postgres_url, None, None, layout, base_urls, cluster)
    try:
        cluster.start("w1")
        cluster.start("w2")
        crawl = world.crawl()
        # Redis dies once the first copies have been judged against the index, and comes
        # back empty: queue, index, locks, all gone.
        assert world.wait_until(lambda: world.staged("done") >= 30, crawl), "the crawl ended first"
        private.kill()
        time.sleep(2)
        private.start()
        result = finish(world, crawl)
        assert_all_stored(world, result)
        marker = redis.Redis(port=private.port).hgetall("restart:marker")
        assert marker and int(marker[b"entries"]) >= 1, marker  # rebuilt, and marked so
        logs = cluster.log_tail(200_000)
        assert "rebuilt the Redis index from the store" in logs
    finally:
        cluster.stop()
        for server in servers.values():
            server.stop()
        private.kill()
        sys.stderr.write(cluster.log_tail())


def test_beat_keeps_ticking_through_a_redis_outage(tmp_path: Path, redis_url: str) -> None:
    """`newsdedup beat` reached Redis through a relay that is cut for 5 s: it stays up and its
    ticks resume once Redis is back, without a restart."""
    from newsdedup.workers.queues import CONTROL_QUEUE

    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    relay = FaultRelay(host, int(port))
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - name: alpha\n    feeds: [https://alpha.example/feed.xml]\n    schedule: 10m\n",
        encoding="utf-8",
    )
    env = newsdedup_env()
    env.update(
        NEWSDEDUP_REDIS_URL=relay.url_for(redis_url, int(port)),
        NEWSDEDUP_CONFIG=str(tmp_path / "sources.yaml"),
        NEWSDEDUP_SCHEDULE_TICK="0.5",
    )
    log = open(tmp_path / "beat.log", "wb")
    beat = subprocess.Popen(
        [*NEWSDEDUP, "beat", "--schedule", str(tmp_path / "beat-state")],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = redis.Redis.from_url(redis_url)

    def ticks_reach(count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while client.llen(CONTROL_QUEUE) < count:
            assert beat.poll() is None, (tmp_path / "beat.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (
                f"fewer than {count} ticks: {(tmp_path / 'beat.log').read_text()[-3000:]}"
            )
            time.sleep(0.1)

    try:
        ticks_reach(2, 30)
        relay.outage(5).join()
        assert beat.poll() is None, "beat died in the outage"
        before = client.llen(CONTROL_QUEUE)
        ticks_reach(before + 3, 30)  # ticking again, by itself
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGKILL)
        beat.wait(timeout=10)
        relay.close()
        client.close()
