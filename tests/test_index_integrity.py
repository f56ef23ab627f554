"""The Redis index stays true to the store: a lost write is made good, a lost index rebuilt.

The index is a cache of the signatures in the store. If it misses an article, later copies of
that article become new articles, silently; these tests make it miss one for real (a write
cut off by a relay in front of Redis, a FLUSHDB) and check that the copy is still judged a
duplicate, and that /healthz and /metrics say when the index is missing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import httpx
import pytest
import redis
from api_factories import live_api
from faultkit import FaultRelay

from newsdedup.config import Settings
from newsdedup.dedup import Fingerprint, RedisIndex
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import PagePipeline
from newsdedup.pipeline.services import dedup_params
from newsdedup.store import Store
from newsdedup.store.staging import Staging
from newsdedup.workers.index_repair import rebuild_exclusively
from newsdedup.workers.locks import StoryLocks, redis_client
from newsdedup.workers.pages import WorkerServices, process_staged_page
from newsdedup.workers.sweeper import rebuild_if_missing

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

STORY = " ".join(
    f"Dock workers in the northern port voted on offer {i} while the shipping firms waited "
    f"for the result of ballot {i * 7} late into the night."
    for i in range(10)
)


def page(url: str, source: str) -> Page:
    html = (
        f"<html lang='en'><head><title>Dock workers vote</title></head><body><article>"
        f"<h1>Dock workers vote</h1><p>{STORY}</p><p>Reported by the {source} desk.</p></article></body></html>"
    )
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers={},
        html=html,
        fetched_at=datetime.now(UTC),
        source=source,
        crawl_id="integrity",
    )


ORIGINAL = page("https://port-news.example/2026/dock-vote.html", "port-news")
COPY = page("https://wire-daily.example/world/dock-vote.html", "wire-daily")


@pytest.fixture
def settings(redis_url: str, postgres_url: str) -> Settings:
    return Settings(
        redis_url=redis_url,
        database_url=postgres_url,
        lsh_basename="integrity",
        task_time_limit=30,
        dedup_lock_timeout=5,
        outage_patience=10,
    )


class IndexThatLosesItsFirstWrite(RedisIndex):
    """The real index, reached through a relay that is cut during its first write: Redis
    never sees that write, and the caller gets the connection error."""

    def __init__(self, relay: FaultRelay, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.relay = relay
        self.writes_lost = 0

    def add(self, key: str, fp: Fingerprint, added_at: float | None = None) -> None:
        if self.writes_lost:
            return super().add(key, fp, added_at)
        self.writes_lost += 1
        self.relay.cut()
        try:
            super().add(key, fp, added_at)
        finally:
            self.relay.restore()


def test_an_index_write_lost_after_the_commit_is_made_good_and_copies_are_still_found(
    settings: Settings,
) -> None:
    host, port = settings.redis_url.split("//", 1)[1].split("/", 1)[0].split(":")  # type: ignore[union-attr]
    relay = FaultRelay(host, int(port))
    store = Store.open(settings.database_url)
    staging = Staging.open(settings.database_url, migrate=False)
    lock_client = redis_client(settings.redis_url)  # type: ignore[arg-type]
    index_client = redis_client(relay.url_for(settings.redis_url, int(port)))  # type: ignore[arg-type]
    params = dedup_params(settings)
    index = IndexThatLosesItsFirstWrite(
        relay, index_client, params, settings.lsh_basename, owner=store.identity()
    )
    pipeline = PagePipeline(
        store,
        index,
        params,
        settings.min_text_words,
        decision_lock=StoryLocks(lock_client, settings.dedup_lock_timeout, params),
        rebuild_index=lambda: rebuild_exclusively(lock_client, index, store, 30, 5, wait=5),
    )
    services = WorkerServices(settings, store, staging, lock_client, pipeline)
    try:
        original_id, _ = staging.stage(ORIGINAL)
        process_staged_page(services, original_id)
        assert index.writes_lost == 1
        assert len(index) == 1  # made good by the retry
        copy_id, _ = staging.stage(COPY)
        assert process_staged_page(services, copy_id) == "duplicate"
        assert len(store.feed_reader.feed()) == 1
    finally:
        services.close()
        index_client.close()
        relay.close()


def test_a_flushed_index_is_rebuilt_before_any_decision_and_the_api_says_so_meanwhile(
    settings: Settings,
) -> None:
    services = WorkerServices.open(settings)  # as `newsdedup worker` opens them
    client = redis.Redis.from_url(settings.redis_url)  # type: ignore[arg-type]
    try:
        original_id, _ = services.staging.stage(ORIGINAL)
        assert process_staged_page(services, original_id) == "created"
        with live_api(settings) as running:
            assert httpx.get(f"{running.base_url}/healthz").json() == {"status": "ok"}
            assert "newsdedup_index_complete 1.0" in httpx.get(f"{running.base_url}/metrics").text

            client.flushdb()  # Redis lost its data
            health = httpx.get(f"{running.base_url}/healthz")
            assert health.status_code == 200 and "missing" in health.json()["warnings"]["index"]
            assert "newsdedup_index_complete 0.0" in httpx.get(f"{running.base_url}/metrics").text

            copy_id, _ = services.staging.stage(COPY)
            assert process_staged_page(services, copy_id) == "duplicate"  # not a new article
            assert httpx.get(f"{running.base_url}/healthz").json() == {"status": "ok"}
        assert len(services.store.feed_reader.feed()) == 1
    finally:
        services.close()
        client.close()


def test_an_idle_cluster_rebuilds_a_lost_index_without_waiting_for_a_page(settings: Settings) -> None:
    services = WorkerServices.open(settings)
    client = redis.Redis.from_url(settings.redis_url)  # type: ignore[arg-type]
    try:
        original_id, _ = services.staging.stage(ORIGINAL)
        assert process_staged_page(services, original_id) == "created"
        assert rebuild_if_missing(settings) is False  # whole: nothing to do
        client.flushdb()
        assert rebuild_if_missing(settings) is True  # what each worker's sweeper does
        owner = services.store.identity()
        index = RedisIndex(client, dedup_params(settings), settings.lsh_basename, owner=owner)
        assert index.is_complete() and len(index) == 1
    finally:
        services.close()
        client.close()


def test_an_index_built_for_another_store_is_not_used(settings: Settings, postgres_admin_url: str) -> None:
    """Two stores pointed at one Redis (a configuration slip): the second does not decide
    against the first one's index."""
    import psycopg

    services = WorkerServices.open(settings)
    try:
        original_id, _ = services.staging.stage(ORIGINAL)
        assert process_staged_page(services, original_id) == "created"
    finally:
        services.close()
    name = f"newsdedup_test_other_{os.getpid()}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    other_url = settings.database_url.rsplit("/", 1)[0] + f"/{name}"
    other = WorkerServices.open(settings.model_copy(update={"database_url": other_url}))
    try:
        copy_id, _ = other.staging.stage(COPY)
        # Its own (empty) store: the copy is a new article there, judged against its own index.
        assert process_staged_page(other, copy_id) == "created"
        index = RedisIndex(
            other.redis, dedup_params(settings), settings.lsh_basename, owner=other.store.identity()
        )
        assert index.is_complete() and len(index) == 1
    finally:
        other.close()
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
