"""/healthz and /metrics over real HTTP, against real SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from api_factories import add_article, add_duplicate, add_version, live_api
from prometheus_client.parser import text_string_to_metric_families

from config import Settings
from store import Store

# Nothing listens on port 1: a Redis that does not answer.
DEAD_REDIS = "redis://127.0.0.1:1/0"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def store(sqlite_url):
    store = Store.open(sqlite_url)
    yield store
    store.close()


def test_metrics_come_from_the_store_at_scrape_time(sqlite_url, store):
    first = add_article(store)
    record = store.feed_reader.article(first.article_id)
    add_version(store, first.article_id, record["canonical_url"], "New text.\nMore.", "New title")
    add_duplicate(
        store, first.article_id, "https://beta.example/copy.html", "New text.\nMore.", "copy", "beta-wire"
    )
    add_duplicate(
        store,
        first.article_id,
        "https://alpha-news.example/print.html",
        "New text.\nMore.",
        "p",
        "alpha-news",
        relation="alternate",
    )
    add_article(store)
    store.failure_log.record("https://alpha-news.example/broken", "alpha-news", "c1", "fetch", "HTTP 500")

    # Two apps in one process: each has its own registry, so both can exist and be scraped.
    with (
        live_api(Settings(database_url=sqlite_url), store) as one,
        live_api(Settings(database_url=sqlite_url), store) as two,
    ):
        response = httpx.get(one.base_url + "/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        found = samples(response.text)
        assert found[("newsdedup_store_up", ())] == 1
        assert found[("newsdedup_articles", ())] == 2
        assert found[("newsdedup_versions", ())] == 3
        assert found[("newsdedup_duplicates_total", ())] == 2
        assert found[("newsdedup_failures_total", ())] == 1
        assert found[("newsdedup_urls_by_relation", (("relation", "syndicated"),))] == 1
        assert found[("newsdedup_feed_seq", ())] == store.feed_reader.last_seq()
        assert not any(name.startswith("newsdedup_queue") for name, _ in found)  # embedded mode

        # Computed at scrape time: a new article shows on the next scrape, on either app.
        add_article(store)
        assert samples(httpx.get(two.base_url + "/metrics").text)[("newsdedup_articles", ())] == 3
        assert samples(httpx.get(one.base_url + "/metrics").text)[("newsdedup_articles", ())] == 3


@pytest.mark.redis
def test_distributed_health_and_queue_depth(sqlite_url, store, redis_url):
    import redis

    from workers.queues import CRAWLS_QUEUE, PAGES_QUEUE

    client = redis.Redis.from_url(redis_url)
    client.rpush(PAGES_QUEUE, b"m1", b"m2", b"m3")
    client.rpush(PAGES_QUEUE + "\x06\x169", b"urgent")  # a priority list of the same queue
    settings = Settings(database_url=sqlite_url, redis_url=redis_url)
    with live_api(settings, store) as running:
        assert httpx.get(running.base_url + "/healthz").json() == {"status": "ok"}
        found = samples(httpx.get(running.base_url + "/metrics").text)
        assert found[("newsdedup_redis_up", ())] == 1
        assert found[("newsdedup_queue_depth", (("queue", PAGES_QUEUE),))] == 4
        assert found[("newsdedup_queue_depth", (("queue", CRAWLS_QUEUE),))] == 0
        client.lpop(PAGES_QUEUE)
        found = samples(httpx.get(running.base_url + "/metrics").text)
        assert found[("newsdedup_queue_depth", (("queue", PAGES_QUEUE),))] == 3
    client.close()


def test_dead_redis_makes_healthz_503_and_metrics_say_so(sqlite_url, store):
    with live_api(Settings(database_url=sqlite_url, redis_url=DEAD_REDIS), store) as running:
        response = httpx.get(running.base_url + "/healthz", timeout=30)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert set(body["failed"]) == {"redis"}
        assert "Connection" in body["failed"]["redis"]
        assert "127.0.0.1" not in response.text and ":1" not in response.text  # no connection details

        metrics = httpx.get(running.base_url + "/metrics", timeout=30)
        assert metrics.status_code == 200
        found = samples(metrics.text)
        assert found[("newsdedup_redis_up", ())] == 0
        assert found[("newsdedup_store_up", ())] == 1


@pytest.mark.postgres
def test_lost_database_makes_healthz_503(postgres_url, postgres_admin_url):
    store = Store.open(postgres_url)
    try:
        add_article(store)
        with live_api(Settings(database_url=postgres_url), store) as running:
            assert httpx.get(running.base_url + "/healthz").status_code == 200
            name = postgres_url.rsplit("/", 1)[1]
            with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

            response = httpx.get(running.base_url + "/healthz", timeout=30)
            assert response.status_code == 503
            assert set(response.json()["failed"]) == {"store"}
            assert response.json()["failed"]["store"].startswith("OperationalError")
            assert (
                name not in response.text and "5432" not in response.text and "postgres" not in response.text
            )

            found = samples(httpx.get(running.base_url + "/metrics", timeout=30).text)
            assert found[("newsdedup_store_up", ())] == 0
            # A feed request while the database is gone: 503 in the API's shape, retry later.
            broken = httpx.get(running.base_url + "/v1/feed", timeout=30)
            assert broken.status_code == 503
            assert broken.json()["error"] == "unavailable"
            assert broken.headers["retry-after"] == "5"
    finally:
        store.close()
