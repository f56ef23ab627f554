"""Retries, give-up and idempotence of the page task, against the real Redis and PostgreSQL.

The transient failure is a real one: the LSH index talks to a Redis port nobody listens on,
while the broker and the store work.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from newsdedup.config import Settings
from newsdedup.dedup import RedisIndex
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import PagePipeline
from newsdedup.pipeline.services import dedup_params
from newsdedup.store import Store
from newsdedup.store.staging import Staging
from newsdedup.workers.app import create_celery_app
from newsdedup.workers.locks import StoryLocks, redis_client
from newsdedup.workers.pages import WorkerServices, max_attempts, process_staged_page

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

TEXT = " ".join(
    f"Sentence {i} of the harbor report says the ferry schedule changes in spring for route {i}."
    for i in range(12)
)
HTML = (
    f"<html lang='en'><head><title>Ferry schedule</title></head><body><article><h1>Ferry schedule</h1>"
    f"<p>{TEXT}</p><p>{TEXT.upper()}</p></article></body></html>"
)


def a_page(crawl_id: str, url: str = "https://harbor.example/2024/05/ferry.html") -> Page:
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers={},
        html=HTML,
        fetched_at=datetime.now(UTC),
        source="harbor",
        crawl_id=crawl_id,
    )


@pytest.fixture
def settings(redis_url: str, postgres_url: str) -> Settings:
    # A short outage patience: these tests are about what comes after it (Celery's retries).
    return Settings(
        redis_url=redis_url,
        database_url=postgres_url,
        task_max_retries=2,
        task_retry_backoff=0.05,
        task_time_limit=30,
        dedup_lock_timeout=5,
        lsh_basename="t",
        outage_patience=0.5,
    )


def open_services(settings: Settings, index_client: redis.Redis) -> WorkerServices:
    store = Store.open(settings.database_url)
    staging = Staging.open(settings.database_url, migrate=False)
    client = redis_client(settings.redis_url)  # type: ignore[arg-type]
    params = dedup_params(settings)
    pipeline = PagePipeline(
        store,
        RedisIndex(index_client, params, settings.lsh_basename),
        params,
        settings.min_text_words,
        decision_lock=StoryLocks(client, settings.dedup_lock_timeout, params),
    )
    return WorkerServices(settings, store, staging, client, pipeline)


def test_transient_failures_are_retried_then_the_page_fails_with_its_reason(settings: Settings) -> None:
    dead_redis = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    services = open_services(settings, dead_redis)
    app = create_celery_app(settings)
    app.services.use(services)
    page_id, _ = services.staging.stage(a_page("retry-crawl"))
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["newsdedup.pages"]
        ):
            app.send_task(
                "newsdedup.process_page", args=[page_id, "https://harbor.example/2024/05/ferry.html"]
            )
            deadline = time.monotonic() + 30
            while services.staging.counts("retry-crawl").pending:
                assert time.monotonic() < deadline, "the page never left pending"
                time.sleep(0.1)
        counts = services.staging.counts("retry-crawl")
        assert (counts.failed, counts.done) == (1, 0)
        [(url, reason)] = services.staging.failed_pages("retry-crawl")
        assert "gave up after retries" in reason and "ConnectionError" in reason, reason
        # The first try and two retries: each one claimed the page once.
        assert services.staging.claim(page_id, 10, 99).attempts == settings.task_max_retries + 1
        failures = services.store.failure_log.latest(crawl_id="retry-crawl")
        assert [f["url"] for f in failures] == [url]
    finally:
        services.close()


def test_a_second_delivery_of_a_page_changes_nothing(settings: Settings) -> None:
    services = open_services(settings, redis_client(settings.redis_url))  # type: ignore[arg-type]
    try:
        page_id, _ = services.staging.stage(a_page("twice"))
        assert process_staged_page(services, page_id) == "created"
        # Redelivered (a broker restore, a re-send of a page thought stale): a no-op.
        assert process_staged_page(services, page_id) == "created"
        counts = services.staging.counts("twice")
        assert (counts.done, counts.outcomes) == (1, {"created": 1})
        assert len(services.store.feed_reader.feed()) == 1
        # The same URL fetched again by a later crawl: stored once, "unchanged".
        again, _ = services.staging.stage(a_page("later"))
        assert process_staged_page(services, again) == "unchanged"
        assert len(services.store.feed_reader.feed()) == 1
    finally:
        services.close()


def test_a_page_whose_worker_keeps_dying_ends_failed(settings: Settings) -> None:
    services = open_services(settings, redis_client(settings.redis_url))  # type: ignore[arg-type]
    try:
        page_id, _ = services.staging.stage(a_page("doomed"))
        for _ in range(max_attempts(settings)):  # each worker takes a lease, then dies
            assert services.staging.claim(page_id, 0, max_attempts(settings)).status == "claimed"
        assert process_staged_page(services, page_id) == "failed"
        [(_, reason)] = services.staging.failed_pages("doomed")
        assert reason.startswith(f"gave up after {max_attempts(settings)} attempts"), reason
        # Failed is final: a later delivery does nothing.
        assert process_staged_page(services, page_id) == "failed"
    finally:
        services.close()


def one_article_then_redis_lost(settings: Settings) -> tuple[WorkerServices, RedisIndex]:
    """Services (close them) with one article stored and indexed, then Redis's data lost."""
    client = redis_client(settings.redis_url)  # type: ignore[arg-type]
    services = open_services(settings, client)
    page_id, _ = services.staging.stage(a_page("rebuild"))
    assert process_staged_page(services, page_id) == "created"
    index = RedisIndex(client, dedup_params(settings), settings.lsh_basename)
    assert len(index) == 1
    client.flushdb()  # Redis lost its data (or the layout changed)
    assert len(index) == 0
    return services, index


def test_the_redis_index_is_rebuilt_from_the_store(settings: Settings) -> None:
    from newsdedup.workers.index_repair import rebuild_index

    services, index = one_article_then_redis_lost(settings)
    try:
        assert rebuild_index(settings) == 1
        assert len(index) == 1
        # A copy at another URL is found again as a duplicate of the stored article.
        copy_id, _ = services.staging.stage(a_page("rebuild", "https://wire.example/ferry.html"))
        assert process_staged_page(services, copy_id) == "duplicate"
    finally:
        services.close()


def test_newsdedup_rebuild_index_rebuilds_it_and_refuses_embedded_mode(settings: Settings, tmp_path) -> None:
    services, index = one_article_then_redis_lost(settings)
    try:
        done = subprocess.run(
            ["newsdedup", "rebuild-index"],
            env=settings.as_environment(os.environ),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "rebuilt the Redis index: 1 entries" in done.stdout
        assert len(index) == 1
        embedded = {
            k: v for k, v in settings.as_environment(os.environ).items() if k != "NEWSDEDUP_REDIS_URL"
        }
        refused = subprocess.run(
            ["newsdedup", "rebuild-index"],
            env=embedded,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2 and "NEWSDEDUP_REDIS_URL" in refused.stderr
    finally:
        services.close()


def test_a_worker_whose_database_connections_are_cut_retries_and_loses_nothing(settings: Settings) -> None:
    """Workers do not ping PostgreSQL before each statement; a connection the server dropped
    (a restart, a failover, an idle timeout) fails one try, which is retried on a new one."""
    import psycopg

    services = WorkerServices.open(settings)  # as `newsdedup worker` opens them
    app = create_celery_app(settings)
    app.services.use(services)
    watcher = Staging.open(settings.database_url, migrate=False)
    bridge = " ".join(
        f"Crews closed lane {i} of the old bridge at dawn while inspectors measured crack {i * 3}."
        for i in range(12)
    )
    other = Page(
        **{
            **a_page("cut", "https://harbor.example/2024/05/bridge.html").__dict__,
            "html": f"<html lang='en'><head><title>Bridge lanes</title></head><body><article>"
            f"<h1>Bridge lanes</h1><p>{bridge}</p><p>{bridge.upper()}</p></article></body></html>",
        }
    )
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=["newsdedup.pages"]
        ):
            for page in (a_page("cut"), other):
                page_id, _ = watcher.stage(page)
                app.send_task("newsdedup.process_page", args=[page_id, page.url])
                deadline = time.monotonic() + 30
                while watcher.counts("cut").pending:
                    assert time.monotonic() < deadline, "the page never left pending"
                    time.sleep(0.05)
                # Every connection the worker holds is cut between the two pages.
                database = settings.database_url.rsplit("/", 1)[1]
                with psycopg.connect(
                    "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
                ) as admin:
                    cut = admin.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()",
                        (database,),
                    ).fetchone()
                assert cut and cut[0] >= 1
        counts = watcher.counts("cut")
        assert (counts.done, counts.failed, counts.outcomes) == (2, 0, {"created": 2})
        with Store.open(settings.database_url, migrate=False) as store:
            assert store.failure_log.latest(crawl_id="cut") == []
            assert len(store.feed_reader.feed()) == 2
    finally:
        watcher.close()
        services.close()


def test_a_lease_given_back_for_a_retry_is_not_renewed_by_a_late_renewal(settings: Settings) -> None:
    staging = Staging.open(settings.database_url)
    try:
        page_id, _ = staging.stage(a_page("given-back"))
        assert staging.claim(page_id, 15, 5).status == "claimed"
        # The worker's renewing thread read the page's id, then the task gave the lease back
        # after a transient error, then the renewal ran: the retry must still find the page free.
        staging.release(page_id, "retrying after ConnectionError")
        staging.renew([page_id], 15)
        assert staging.claim(page_id, 15, 5).status == "claimed"
        # A lease still held is renewed: another delivery finds it busy.
        staging.renew([page_id], 15)
        assert staging.claim(page_id, 15, 5).status == "busy"
    finally:
        staging.close()
