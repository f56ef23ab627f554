"""Distributed mode with the real thing: Redis, PostgreSQL and `newsdedup worker` processes.

Pages are staged directly (no Scrapy here) and their tasks sent the way the crawling process
sends them; the workers run the very pipeline of embedded mode.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from faultkit import start_worker
from helpers import newsdedup_env

from newsdedup.config import Settings
from newsdedup.fetched.page import Page
from newsdedup.pipeline.summary import CrawlSummary
from newsdedup.store import Store
from newsdedup.store.staging import Staging
from newsdedup.workers.app import create_celery_app
from newsdedup.workers.crawl_side import wait_for_crawl
from newsdedup.workers.sending import PageSender

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[1]
# Small limits so that a lost worker's lease runs out within seconds in these tests.
TASK_TIME_LIMIT = 8
DEDUP_LOCK_TIMEOUT = 3

WIRE_PARAGRAPHS = [
    "The regional transit authority approved a plan on Tuesday to extend the harbor light rail "
    "line by eleven kilometres, adding six stations between the ferry terminal and the airport.",
    "Board members voted seven to two in favour after a four-hour meeting in which residents of "
    "the eastern districts argued that the route would finally connect them to jobs downtown.",
    "The extension is expected to cost 1.4 billion dollars, two thirds of it from a federal "
    "infrastructure grant announced last spring, with the rest coming from a regional sales tax.",
    "Construction could begin next year and the first trains would run by the end of the decade, "
    "the authority's chief executive told reporters after the vote, calling it a historic day.",
    "Opponents said the budget leaves no room for the cost overruns that plagued the original "
    "line, which opened three years late and nearly forty percent over its initial estimate.",
    "The authority said it had learned from those mistakes and would publish quarterly reports "
    "on spending, contracts and the schedule so that the public could follow the project closely.",
]


def story_copy(n: int, source: str) -> str:
    """Copy ``n`` of one wire story: the same text with a byline and a credit line that vary."""
    byline = f"<p class='byline'>By Staff Writer {n} for {source.title()}</p>"
    credit = f"<p>This story first appeared on {source.title()} News, edition {n}.</p>" if n % 2 else ""
    body = "\n".join(f"<p>{p}</p>" for p in WIRE_PARAGRAPHS)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Transit board approves light rail extension</title></head>
<body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>
<main><article><h1>Transit board approves light rail extension</h1>{byline}
{body}
{credit}</article></main><footer>Copyright {source}</footer></body></html>"""


def distinct_story(n: int) -> str:
    words = " ".join(f"w{n}x{i}" for i in range(40))
    paragraphs = "\n".join(
        f"<p>Report number {n}, part {p}: the committee for district {n} discussed budget line {n * 7 + p} "
        f"and {words[p * 20 : p * 20 + 200]} before adjourning until the following week.</p>"
        for p in range(5)
    )
    return (
        f"<!doctype html><html lang='en'><head><title>Report {n}</title></head><body><article>"
        f"<h1>District {n} committee report</h1>{paragraphs}</article></body></html>"
    )


def page(url: str, source: str, html: str, crawl_id: str) -> Page:
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers={"content-type": "text/html; charset=utf-8"},
        html=html,
        fetched_at=datetime.now(UTC),
        source=source,
        crawl_id=crawl_id,
    )


@pytest.fixture
def env(redis_url: str, postgres_url: str) -> dict[str, str]:
    env = newsdedup_env()
    env.update(
        NEWSDEDUP_REDIS_URL=redis_url,
        NEWSDEDUP_DATABASE_URL=postgres_url,
        NEWSDEDUP_TASK_TIME_LIMIT=str(TASK_TIME_LIMIT),
        NEWSDEDUP_TASK_RETRY_BACKOFF="0.2",
        NEWSDEDUP_TASK_MAX_RETRIES="3",
        NEWSDEDUP_LSH_BASENAME="test-lsh",
        # A worker killed while holding story locks blocks their story this long.
        NEWSDEDUP_DEDUP_LOCK_TIMEOUT=str(DEDUP_LOCK_TIMEOUT),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings(
        redis_url=env["NEWSDEDUP_REDIS_URL"],
        database_url=env["NEWSDEDUP_DATABASE_URL"],
        task_time_limit=TASK_TIME_LIMIT,
        task_retry_backoff=0.2,
        task_max_retries=3,
        lsh_basename="test-lsh",
        dedup_lock_timeout=DEDUP_LOCK_TIMEOUT,
    )


@pytest.fixture
def staging(settings: Settings) -> Iterator[Staging]:
    # Store.open runs every migration (the store's and the staging table's).
    Store.open(settings.database_url).close()
    staging = Staging.open(settings.database_url, migrate=False)
    yield staging
    staging.close()


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `newsdedup worker` processes; every one is killed (its whole group) at the end."""
    started: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, concurrency: int = 2) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"{name}.log", "wb")
        process = start_worker(env, f"{name}@%h", log, concurrency, "--pool", "prefork")
        started[name] = process
        return process

    yield start
    for process in started.values():
        kill_group(process)
    for name in started:  # shown by pytest when the test failed
        text = (tmp_path / f"{name}.log").read_text(errors="replace")
        sys.stderr.write(f"--- worker {name} (log tail) ---\n{text[-4000:]}\n")


def kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_ready(app, names: list[str], timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        seen = {name.split("@")[0] for reply in replies for name in reply}
        if set(names) <= seen:
            return
    raise AssertionError(f"workers {names} did not answer within {timeout}s")


def test_pages_come_in_faster_than_one_commit_each_and_a_refused_one_loses_no_other(
    settings, staging
) -> None:
    """The crawl's side alone: pages queued faster than they can be committed one by one are
    staged in batches and sent; a page PostgreSQL refuses (a NUL character) is reported with
    its reason, and the batch it came in with is staged all the same."""
    from newsdedup.workers.crawl_side import DistributedSink

    app = create_celery_app(settings)
    sender = PageSender(app)
    store = Store.open(settings.database_url, migrate=False)
    crawl_id = "burst"
    urls = [f"https://daily.example/reports/{n}.html" for n in range(30)]
    sink = DistributedSink(store, staging, sender, crawl_id)
    try:
        for n, url in enumerate(urls):
            html = distinct_story(n) if n != 17 else distinct_story(n).replace("committee", "commit\x00tee")
            sink.accept(page(url, "daily", html, "ignored: the sink's crawl id wins"))
        sink.accept(page(urls[3], "daily", distinct_story(3), crawl_id))  # listed twice
        sink.close()
        assert (sink.fetched.pages_fetched, sink.fetched.errors) == (29, 1)
        counts = staging.counts(crawl_id)
        assert (counts.pending, counts.done, counts.failed) == (29, 0, 0)
        assert sender.queue_length() == 29
        assert staging.stale(crawl_id, None) == []  # every staged page is marked sent
        [failure] = store.failure_log.latest(crawl_id=crawl_id)
        assert failure["url"] == urls[17] and "NUL" in failure["reason"]
    finally:
        sink.close()
        store.close()


def test_twenty_copies_of_one_story_at_once_make_one_article(settings, staging, workers) -> None:
    app = create_celery_app(settings)
    workers("w1")
    workers("w2")
    wait_ready(app, ["w1", "w2"])

    crawl_id = "wire-burst"
    sources = ["coastal-wire", "harbor-times", "metro-daily"]
    urls = [f"https://{sources[n % 3]}.example/{2024}/05/transit-{n}.html" for n in range(20)]
    ids = [
        staging.stage(page(url, sources[n % 3], story_copy(n, sources[n % 3]), crawl_id))[0]
        for n, url in enumerate(urls)
    ]
    sender = PageSender(app)
    started = time.monotonic()
    # All twenty queued at once; four processes take them.
    assert sender.send_many(list(zip(ids, urls))) == ids
    staging.mark_sent(ids)
    summary = wait_for_crawl(staging, sender, crawl_id, CrawlSummary(pages_fetched=20), timeout=90)
    elapsed = time.monotonic() - started
    sys.stderr.write(f"20 copies on 2 workers x 2 processes: {elapsed:.2f}s ({20 / elapsed:.1f} pages/s)\n")

    assert summary.created == 1, summary
    assert summary.duplicates == 19, summary
    assert summary.errors == 0, summary
    store = Store.open(settings.database_url, migrate=False)
    try:
        records = store.feed_reader.feed()
    finally:
        store.close()
    assert len(records) == 1
    assert sorted(records[0]["urls"]) == sorted(urls)
    assert set(records[0]["sources"]) == set(sources)


def test_a_worker_killed_mid_crawl_loses_nothing_and_doubles_nothing(settings, staging, workers) -> None:
    app = create_celery_app(settings)
    first = workers("doomed")
    wait_ready(app, ["doomed"])

    crawl_id = "kill-crawl"
    n_pages = 40
    urls = [f"https://daily.example/reports/{n}.html" for n in range(n_pages)]
    ids = [staging.stage(page(url, "daily", distinct_story(n), crawl_id))[0] for n, url in enumerate(urls)]
    sender = PageSender(app)
    assert sender.send_many(list(zip(ids, urls))) == ids
    staging.mark_sent(ids)

    deadline = time.monotonic() + 60
    while staging.counts(crawl_id).done < 3:
        assert time.monotonic() < deadline, "the first worker processed nothing"
        time.sleep(0.02)
    kill_group(first)  # SIGKILL to the master and its children, mid-crawl
    at_kill = staging.counts(crawl_id)
    sys.stderr.write(f"killed with {at_kill.done} done, {at_kill.pending} pending, {at_kill.leased} leased\n")
    assert at_kill.pending > 0, "the crawl finished before the kill; the test proves nothing"

    workers("rescuer")
    started = time.monotonic()
    # The wait re-sends what the dead worker took: leases run out after the hard limit + margin.
    summary = wait_for_crawl(
        staging, sender, crawl_id, CrawlSummary(pages_fetched=n_pages), unclaimed_grace=2, timeout=90
    )
    sys.stderr.write(f"recovered in {time.monotonic() - started:.1f}s: {summary.line()}\n")

    # A page the dead worker stored but could not mark done is processed again and found
    # "unchanged" (its text is stored already): stored once either way.
    assert summary.created + summary.unchanged == n_pages and summary.unchanged <= 2, summary
    assert summary.errors == 0 and summary.duplicates == 0, summary
    counts = staging.counts(crawl_id)
    assert (counts.done, counts.failed, counts.pending) == (n_pages, 0, 0)
    store = Store.open(settings.database_url, migrate=False)
    try:
        records = store.feed_reader.feed()
    finally:
        store.close()
    assert len(records) == n_pages  # nothing lost
    assert sorted(u for r in records for u in r["urls"]) == sorted(urls)  # nothing doubled
