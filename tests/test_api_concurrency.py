"""A consumer following /v1/feed over HTTP while writers change the PostgreSQL store."""

from __future__ import annotations

import random
import threading

import httpx
import pytest
from api_factories import add_article, add_version, live_api

from newsdedup.config import Settings
from newsdedup.store import Store

WRITERS = 4
WRITES_PER_WRITER = 60


@pytest.mark.postgres
def test_consumer_sees_every_article_at_its_last_seq_while_writers_run(postgres_url):
    store = Store.open(postgres_url)
    articles: list[tuple[str, str]] = []  # (id, canonical_url) of every created article
    lock = threading.Lock()
    errors: list[BaseException] = []
    done = threading.Event()

    def writer(number: int) -> None:
        rng = random.Random(number)
        try:
            for step in range(WRITES_PER_WRITER):
                with lock:
                    known = list(articles)
                if known and rng.random() < 0.5:
                    # Writers update each other's articles too: the article row lock and the
                    # seq counter decide the order.
                    article_id, url = rng.choice(known)
                    add_version(
                        store,
                        article_id,
                        url,
                        f"Text by writer {number}, step {step}.\nMore.",
                        f"Update {number}.{step}",
                    )
                else:
                    applied = add_article(store, source="alpha-news")
                    record = store.feed_reader.article(applied.article_id)
                    with lock:
                        articles.append((applied.article_id, record["canonical_url"]))
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    try:
        with (
            live_api(Settings(database_url=postgres_url), store) as running,
            httpx.Client(base_url=running.base_url, timeout=30) as client,
        ):
            threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
            for thread in threads:
                thread.start()
            watcher = threading.Thread(target=lambda: ([t.join() for t in threads], done.set()))
            watcher.start()

            cursor, seen_seqs, last_seen = 0, [], {}
            pages = 0
            while True:
                finished = done.is_set()  # read before the request: a drain after the end must be empty
                page = client.get("/v1/feed", params={"after": cursor, "limit": 7}).json()
                pages += 1
                for item in page["items"]:
                    assert item["seq"] > cursor, "the feed went backwards"
                    cursor = item["seq"]
                    seen_seqs.append(item["seq"])
                    previous = last_seen.get(item["id"])
                    assert previous is None or item["version"] >= previous["version"]
                    last_seen[item["id"]] = item
                assert page["next_after"] == cursor
                if finished and not page["items"]:
                    break
            watcher.join()
            assert not errors, errors

        assert pages > 10  # the consumer really read while the writers ran
        assert seen_seqs == sorted(set(seen_seqs))
        assert len(articles) == len(last_seen)
        for article_id, _url in articles:
            final = store.feed_reader.article(article_id)
            assert last_seen[article_id]["seq"] == final["seq"], f"missed the last state of {article_id}"
            assert last_seen[article_id]["version"] == final["version"]
    finally:
        store.close()
