"""Story locks: copies of one story decide one after the other, unrelated pages at the same time.

The lock keys are what two near-duplicates must share (a URL, an LSH band, a long paragraph);
taking them is all or nothing; a rebuild of the index excludes every decision; and with real
`newsdedup worker` processes, pages of other stories are decided while one story is locked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from faultkit import FaultRelay
from test_distributed import (  # noqa: F401 - fixtures used by name
    WIRE_PARAGRAPHS,
    distinct_story,
    env,
    page,
    settings,
    staging,
    story_copy,
    wait_ready,
    workers,
)

from newsdedup.config import Settings
from newsdedup.extract import Document
from newsdedup.fetched.page import Page
from newsdedup.pipeline.page_pipeline import prepare_page
from newsdedup.pipeline.services import dedup_params
from newsdedup.pipeline.summary import CrawlSummary
from newsdedup.store import Store
from newsdedup.workers.app import create_celery_app
from newsdedup.workers.crawl_side import wait_for_crawl
from newsdedup.workers.locks import StoryLocks, redis_client, story_lock_keys, whole_index_lock
from newsdedup.workers.sending import PageSender
from newsdedup.workers.sweeper import rebuild_if_missing

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

PARAMS = dedup_params(Settings())
SOURCES = ["coastal-wire", "harbor-times", "metro-daily"]


def keys_of(url: str, html: str) -> set[str]:
    prepared = prepare_page(Page(url, url, 200, {}, html, datetime.now(UTC), "s", "c"), 20, PARAMS)
    assert isinstance(prepared.extracted, Document) and prepared.fingerprint is not None
    doc = prepared.extracted
    return set(story_lock_keys(doc.url, doc.canonical_url, prepared.fingerprint, PARAMS))


def trimmed(n: int, source: str, keep: int) -> str:
    """A copy that kept only the first ``keep`` paragraphs of the wire story."""
    full = story_copy(n, source)
    for paragraph in WIRE_PARAGRAPHS[keep:]:
        full = full.replace(f"<p>{paragraph}</p>", "")
    return full


def test_lock_keys_of_copies_overlap_and_those_of_unrelated_pages_are_disjoint() -> None:
    copies = [
        keys_of(f"https://{SOURCES[n % 3]}.example/transit-{n}.html", story_copy(n, SOURCES[n % 3]))
        for n in range(4)
    ]
    copies.append(keys_of("https://brief.example/transit.html", trimmed(9, "brief", keep=2)))
    others = [keys_of(f"https://daily.example/reports/{n}.html", distinct_story(n)) for n in range(4)]
    for i, a in enumerate(copies):
        for b in copies[i + 1 :]:
            assert a & b, "two copies of one story must share a lock"
    for i, a in enumerate(others):
        assert not a & set().union(*copies), "an unrelated page must not wait for the story"
        for b in others[i + 1 :]:
            assert not a & b, "two unrelated pages must not share a lock"
    # The same URL is one key whatever the text (a re-fetch, a redelivery).
    url = "https://daily.example/reports/1.html"
    assert keys_of(url, distinct_story(1)) & keys_of(url, distinct_story(2))


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis_client(redis_url)
    yield client
    client.close()


def test_story_locks_are_taken_all_or_nothing(client: redis.Redis) -> None:
    first = StoryLocks(client, 5, PARAMS)
    second = StoryLocks(client, 0.3, PARAMS)  # another worker, waiting 0.3 s at most
    with first.holding(["k:a", "k:b"]):
        with pytest.raises(redis.exceptions.LockError, match="another page"):
            with second.holding(["k:b", "k:c"]):
                pass
        assert client.exists("k:c") == 0  # nothing left half-taken
        with second.holding(["k:c", "k:d"]):  # an unrelated story goes on meanwhile
            assert client.exists("k:a", "k:b", "k:c", "k:d") == 4
    with second.holding(["k:b", "k:c"]):
        pass
    assert client.exists("k:a", "k:b", "k:c", "k:d") == 0
    assert second.stats.conflicts >= 1 and second.stats.taken == 2


def test_story_locks_expire_with_their_dead_holder(client: redis.Redis) -> None:
    # Taken, never released: the holder is kept referenced, as a dead worker's lock stays in
    # Redis (a context manager dropped at once would be finalized, and release it).
    dead_holder = StoryLocks(client, 0.5, PARAMS).holding(["k:x"])
    dead_holder.__enter__()
    assert client.exists("k:x") == 1
    started = time.monotonic()
    # Waiting up to 5 s, it gets the lock (no LockError) once the dead holder's 0.5 s ran out.
    with StoryLocks(client, 5, PARAMS).holding(["k:x"]):
        assert time.monotonic() - started >= 0.3


def test_locks_whose_release_redis_missed_are_released_by_the_holders_next_try(
    redis_url: str, client: redis.Redis
) -> None:
    host, port = redis_url.split("//", 1)[1].split("/", 1)[0].split(":")
    relay = FaultRelay(host, int(port))
    through_relay = redis_client(relay.url_for(redis_url, int(port)))
    try:
        holder = StoryLocks(through_relay, 30, PARAMS)
        with pytest.raises(redis.exceptions.ConnectionError), holder.holding(["k:story"]):
            relay.cut()  # Redis goes away before the release
        relay.restore()
        other = StoryLocks(client, 0.2, PARAMS)
        with pytest.raises(redis.exceptions.LockError):
            with other.holding(["k:story"]):  # still held: its release was lost
                pass
        with holder.holding(["k:elsewhere"]):  # the holder's next try releases it first
            pass
        with other.holding(["k:story"]):
            pass
    finally:
        through_relay.close()
        relay.close()


def test_a_rebuild_waits_for_the_pages_deciding_and_no_page_decides_during_it(client: redis.Redis) -> None:
    page_locks = StoryLocks(client, 5, PARAMS)
    events: list[str] = []

    def rebuild() -> None:
        with whole_index_lock(client, 5, wait=5):
            events.append("rebuild")

    with page_locks.holding(["k:p"]):
        thread = threading.Thread(target=rebuild)
        thread.start()
        time.sleep(0.3)
        events.append("page done")
    thread.join(timeout=10)
    assert events == ["page done", "rebuild"]

    with whole_index_lock(client, 5, wait=5), pytest.raises(redis.exceptions.LockError, match="rebuilt"):
        with StoryLocks(client, 0.3, PARAMS).holding(["k:q"]):
            pass
    with StoryLocks(client, 0.3, PARAMS).holding(["k:q"]):
        pass


# --- with real workers ------------------------------------------------------------------


@pytest.fixture
def slow_settings(env: dict[str, str]) -> Settings:
    """Locks that may be waited for long enough to keep a story locked from the test."""
    env.update(NEWSDEDUP_DEDUP_LOCK_TIMEOUT="20", NEWSDEDUP_TASK_TIME_LIMIT="60")
    return Settings(
        redis_url=env["NEWSDEDUP_REDIS_URL"],
        database_url=env["NEWSDEDUP_DATABASE_URL"],
        task_time_limit=60,
        task_retry_backoff=0.2,
        task_max_retries=3,
        lsh_basename="test-lsh",
        dedup_lock_timeout=20,
    )


def stage_and_send(staging, app, pages: list[Page]) -> tuple[PageSender, list[int]]:
    ids = [staging.stage(p)[0] for p in pages]
    sender = PageSender(app)
    assert sender.send_many([(i, p.url) for i, p in zip(ids, pages)]) == ids
    staging.mark_sent(ids)
    return sender, ids


def test_pages_of_other_stories_are_decided_while_one_story_is_locked(
    slow_settings, staging, workers
) -> None:
    settings = slow_settings
    app = create_celery_app(settings)
    workers("w1")
    workers("w2")
    wait_ready(app, ["w1", "w2"])
    rebuild_if_missing(settings)  # the (empty) index built now: a rebuild would wait for the story's locks
    crawl_id = "locked-story"
    copies = [
        page(
            f"https://{SOURCES[n]}.example/2024/05/transit-{n}.html",
            SOURCES[n],
            story_copy(n, SOURCES[n]),
            crawl_id,
        )
        for n in range(2)
    ]
    others = [
        page(f"https://daily.example/reports/{n}.html", "daily", distinct_story(n), crawl_id)
        for n in range(6)
    ]
    # This test holds the story's locks, as a worker deciding one of its copies would.
    prepared = prepare_page(copies[0], settings.min_text_words, PARAMS)
    assert prepared.fingerprint is not None
    story_keys = sorted(
        set(
            story_lock_keys(
                "https://nowhere.example/", "https://nowhere.example/", prepared.fingerprint, PARAMS
            )
        )
    )
    client = redis_client(settings.redis_url)  # type: ignore[arg-type]
    holder = StoryLocks(client, 60, PARAMS)
    try:
        with holder.holding(story_keys):
            sender, ids = stage_and_send(staging, app, copies + others)
            deadline = time.monotonic() + 90
            while staging.counts(crawl_id).done < len(others):
                assert time.monotonic() < deadline, f"unrelated pages not decided: {staging.counts(crawl_id)}"
                time.sleep(0.1)
            counts = staging.counts(crawl_id)
            # Every unrelated page is done; the copies still wait for their story.
            assert (counts.done, counts.pending, counts.failed) == (len(others), len(copies), 0), counts
            assert counts.outcomes == {"created": len(others)}
        summary = wait_for_crawl(staging, sender, crawl_id, CrawlSummary(pages_fetched=len(ids)), timeout=120)
    finally:
        client.close()
    assert (summary.created, summary.duplicates, summary.errors) == (len(others) + 1, len(copies) - 1, 0), (
        summary
    )
    store = Store.open(settings.database_url, migrate=False)
    try:
        records = store.feed_reader.feed()
    finally:
        store.close()
    [story] = [r for r in records if set(r["urls"]) & {c.url for c in copies}]
    assert sorted(story["urls"]) == sorted(c.url for c in copies)


def test_copies_of_two_stories_racing_across_workers_make_two_articles(
    slow_settings, staging, workers
) -> None:
    settings = slow_settings
    app = create_celery_app(settings)
    workers("w1")
    workers("w2")
    wait_ready(app, ["w1", "w2"])
    crawl_id = "two-stories"
    first = [
        page(
            f"https://{SOURCES[n % 3]}.example/2024/05/transit-{n}.html",
            SOURCES[n % 3],
            story_copy(n, SOURCES[n % 3]),
            crawl_id,
        )
        for n in range(8)
    ]
    # The second story: one report, syndicated under other URLs with a line of its own each.
    second = [
        page(
            f"https://{SOURCES[n % 3]}.example/reports/district-{n}.html",
            SOURCES[n % 3],
            distinct_story(77).replace("</article>", f"<p>Seen on {SOURCES[n % 3]}.</p></article>"),
            crawl_id,
        )
        for n in range(8)
    ]
    mixed = [p for pair in zip(first, second) for p in pair]  # the two stories interleaved
    sender, ids = stage_and_send(
        staging,
        app,
        mixed
        + [
            page(f"https://daily.example/other/{n}.html", "daily", distinct_story(n), crawl_id)
            for n in range(4)
        ],
    )
    summary = wait_for_crawl(staging, sender, crawl_id, CrawlSummary(pages_fetched=len(ids)), timeout=120)
    assert (summary.created, summary.duplicates, summary.errors) == (2 + 4, 14, 0), summary
    store = Store.open(settings.database_url, migrate=False)
    try:
        by_urls = {frozenset(r["urls"]) for r in store.feed_reader.feed()}
    finally:
        store.close()
    assert frozenset(p.url for p in first) in by_urls
    assert frozenset(p.url for p in second) in by_urls
