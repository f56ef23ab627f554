"""/livez, /readyz (and /healthz), /metrics and request ids over real HTTP, against real SQLite,
PostgreSQL and Redis."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time

import httpx
import psycopg
import pytest
from api_factories import add_article, add_duplicate, add_version, live_api
from faultkit import FaultRelay
from helpers import NEWSDEDUP, newsdedup_env
from prometheus_client.parser import text_string_to_metric_families

from newsdedup.config import Settings
from newsdedup.config.logs import ContextFilter
from newsdedup.store import Store

# The store fixture (conftest.py) opens the SQLite database these tests build their settings on.
pytestmark = pytest.mark.sqlite_only

# Nothing listens on port 1: a Redis that does not answer.
DEAD_REDIS = "redis://127.0.0.1:1/0"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


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

    from newsdedup.workers.queues import CRAWLS_QUEUE, PAGES_QUEUE

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


# --- liveness apart from readiness; request ids -------------------------------------------


@pytest.mark.postgres
def test_readiness_fails_when_postgres_is_cut_and_liveness_does_not(postgres_url, caplog):
    relay = FaultRelay("127.0.0.1", 5432)
    store = Store.open(relay.url_for(postgres_url, 5432))
    caplog.handler.addFilter(ContextFilter())  # the ids, as the command's own handler has them
    try:
        with live_api(Settings(database_url=relay.url_for(postgres_url, 5432)), store) as running:
            for path in ("/livez", "/readyz", "/healthz"):
                assert httpx.get(running.base_url + path).status_code == 200, path

            relay.cut()
            alive = httpx.get(running.base_url + "/livez", timeout=30)
            assert alive.status_code == 200 and alive.json() == {"status": "ok"}
            ready = httpx.get(running.base_url + "/readyz", headers={"X-Request-ID": "probe-42"}, timeout=30)
            assert ready.status_code == 503
            assert ready.headers["retry-after"] == "5"
            assert ready.json()["status"] == "unavailable"
            assert set(ready.json()["failed"]) == {"store"}
            assert ready.headers["x-request-id"] == "probe-42"
            # /healthz: the same check, the same answer.
            health = httpx.get(running.base_url + "/healthz", timeout=30)
            assert health.status_code == 503 and health.json() == ready.json()
            # The server's log line about the failure names the request it was logged for.
            failures = [r for r in caplog.records if "readiness: store failed" in r.getMessage()]
            assert "probe-42" in {getattr(r, "request_id", None) for r in failures}

            relay.restore()
            assert httpx.get(running.base_url + "/readyz", timeout=30).status_code == 200
    finally:
        relay.close()
        store.close()


@pytest.mark.redis
def test_readiness_names_redis_when_it_is_cut(sqlite_url, store, redis_url):
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    relay = FaultRelay(host, int(port))
    try:
        settings = Settings(database_url=sqlite_url, redis_url=relay.url_for(redis_url, int(port)))
        with live_api(settings, store) as running:
            assert httpx.get(running.base_url + "/readyz").status_code == 200
            relay.cut()
            ready = httpx.get(running.base_url + "/readyz", timeout=30)
            assert ready.status_code == 503 and set(ready.json()["failed"]) == {"redis"}
            assert ready.headers["retry-after"]
            assert httpx.get(running.base_url + "/livez", timeout=30).status_code == 200
    finally:
        relay.close()


def test_each_response_carries_a_request_id(sqlite_url, store):
    with live_api(Settings(database_url=sqlite_url), store) as running:
        given = httpx.get(running.base_url + "/v1/feed", headers={"X-Request-ID": "feed-reader.7"})
        assert given.headers["x-request-id"] == "feed-reader.7"
        made = httpx.get(running.base_url + "/v1/feed")
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
        assert (
            httpx.get(running.base_url + "/v1/feed").headers["x-request-id"] != made.headers["x-request-id"]
        )
        # An id that would garble a log line is replaced, not echoed.
        odd = httpx.get(running.base_url + "/livez", headers={"X-Request-ID": 'a b"\\'})
        assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["x-request-id"])
        # Errors carry one too.
        missing = httpx.get(running.base_url + "/v1/articles/nope", headers={"X-Request-ID": "r-404"})
        assert missing.status_code == 404 and missing.headers["x-request-id"] == "r-404"


def test_serve_logs_json_lines_with_the_request_id(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = newsdedup_env()
    env.update(NEWSDEDUP_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}", NEWSDEDUP_LOG_FORMAT="json")
    log = tmp_path / "serve.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            [*NEWSDEDUP, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/livez", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
        assert httpx.get(base + "/readyz", headers={"X-Request-ID": "probe-42"}).status_code == 200
        made = httpx.get(base + "/v1/feed").headers["x-request-id"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    lines = log.read_text().splitlines()
    print("\n".join(lines))  # shown by pytest when the test fails
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"] == "uvicorn.error" for r in records)  # uvicorn's own lines too
    access = {r.get("request_id"): r["message"] for r in records if r["logger"] == "uvicorn.access"}
    assert "GET /readyz" in access["probe-42"]
    assert "GET /v1/feed" in access[made]


def test_an_unexpected_error_is_logged_and_answered_with_the_request_id(sqlite_url, store, caplog):
    from newsdedup.api import create_app
    from newsdedup.api.server import serve_in_thread

    app = create_app(Settings(database_url=sqlite_url), store)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    caplog.handler.addFilter(ContextFilter())
    with serve_in_thread(app) as running:
        response = httpx.get(running.base_url + "/broken", headers={"X-Request-ID": "bug-report-1"})
    assert response.status_code == 500 and response.json()["error"] == "internal"
    assert response.headers["x-request-id"] == "bug-report-1"
    logged = [r for r in caplog.records if r.getMessage().startswith("unhandled error on GET /broken")]
    assert logged and logged[0].exc_info and getattr(logged[0], "request_id", None) == "bug-report-1"
