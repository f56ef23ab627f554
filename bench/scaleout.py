"""Decisions per second against the number of worker processes (distributed mode's scale-out).

    python -m bench.scaleout [--data DIR] [--limit N] [--workers 1,2,4,8] [--copies 0.5]
                             [--repeat R] [--redis-url URL] [--quick] [--no-baseline]

Real pages (``news-pages-fundus``), extracted and fingerprinted once in this process before
anything is timed; a share of them (``--copies``) gets a syndicated copy at another URL of
another source (the same text, its own URL as canonical), placed right after its original so
that the two reach different processes at about the same time. Every page is staged in a fresh
PostgreSQL database, then K processes (K = 1, 2, 4, 8), each with the worker's own services
(``WorkerServices.open``: the store, the staging table, the Redis index and the story locks),
run ``process_staged_page`` on their share of the pages (claim, candidates, decision, the
store transaction that also marks the row done), all starting at one barrier. Redis: the
database of ``--redis-url`` (default 11), FLUSHDB before each run and at the end; never
FLUSHALL. PostgreSQL: a database created and dropped for each run.

Printed for each K, with the story locks of 0.2 and, as the baseline measured in the same
run, with one lock for every page (0.1's cluster-wide decision lock, the same mechanism
given a single key):

- decisions/s (pages / wall time from the barrier to the last page done) and the ratio to K=1;
- the time a page held its locks (what copies of one story do in turn; with one lock, what
  the whole cluster does in turn), and the time it waited for them;
- the time a page held the store's seq counter (a row every writer of the cluster takes in
  turn, from the statement that takes it to the end of COMMIT): the cluster-wide serialized
  time per page under story locks;
- PostgreSQL statements and transactions, and Redis calls, per page;
- whether the articles are those of embedded mode on the same pages in the order the run
  decided them (the same URLs grouped into the same articles, with the same number of
  versions): pages that could find each other are decided one after the other, in an order
  that the run's own timestamps give; also printed: whether they are those of embedded mode in
  the order the pages were staged (a few pages of these data depend on the order: a page
  similar to two that are not similar to each other).

Results: ``bench/results/scaleout.json``. Model of larger clusters: ``bench/README.md``.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import data_argument_parser, print_table, require_dataset, write_results
from bench.throughput import load_pages

REDIS_URL = "redis://127.0.0.1:6379/11"  # FLUSHDB before each run and after; never FLUSHALL
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SCHEMES = ("story locks", "one lock")
GOAL_K4 = 1.6
SITE = "https://fundus.example"


@dataclass(frozen=True)
class Job:
    page: Any  # fetched.page.Page
    prepared: Any  # pipeline.page_pipeline.PreparedPage


def prepare_jobs(folder: Path, limit: int, copies: float, seed: int = 7) -> list[Job]:
    """The pages, extracted and fingerprinted, each copy right after its original."""
    from newsdedup.config import Settings
    from newsdedup.extract import Document
    from newsdedup.fetched.page import Page
    from newsdedup.pipeline.page_pipeline import prepare_page
    from newsdedup.pipeline.services import dedup_params

    settings = Settings()
    params = dedup_params(settings)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    jobs: list[Job] = []
    for n, site_page in enumerate(load_pages(folder, limit)):
        url = SITE + site_page.path
        page = Page(
            url,
            url,
            200,
            {"content-type": "text/html; charset=utf-8"},
            site_page.html,
            now,
            "fundus",
            "scaleout",
        )
        prepared = prepare_page(page, settings.min_text_words, params)
        jobs.append(Job(page, prepared))
        if isinstance(prepared.extracted, Document) and rng.random() < copies:
            copy_url = f"https://copies-{n % 5}.example/syndicated/{n}.html"
            copy_page = replace(page, url=copy_url, final_url=copy_url, source=f"copies-{n % 5}")
            document = replace(prepared.extracted, url=copy_url, canonical_url=copy_url)
            jobs.append(Job(copy_page, replace(prepared, extracted=document)))
    return jobs


def strip_html(jobs: list[Job]) -> list[Job]:
    """What a worker process needs: the page's facts and its extraction, not its HTML."""
    return [Job(replace(job.page, html=""), job.prepared) for job in jobs]


def articles_of(feed: list[dict[str, Any]]) -> list[tuple[tuple[str, ...], int]]:
    """The feed as order-free facts: each article's URLs and number of versions."""
    return sorted((tuple(sorted(record["urls"])), record["version"]) for record in feed)


# --- embedded mode, for the decisions to compare with -----------------------------------


def embedded_articles(jobs: list[Job]) -> list[tuple[tuple[str, ...], int]]:
    from newsdedup.config import Settings
    from newsdedup.pipeline.services import open_embedded_pipeline

    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as workdir:
        pipeline = open_embedded_pipeline(Settings(database_url=f"sqlite:///{workdir}/embedded.db"))
        try:
            for job in jobs:
                pipeline.commit(job.page, job.prepared)
            return articles_of(pipeline.store.feed_reader.feed())
        finally:
            pipeline.store.close()


# --- one worker process -----------------------------------------------------------------


def _worker(
    settings_kwargs: dict[str, Any], scheme: str, work: list[tuple[int, Job]], barrier: Any, results: Any
) -> None:
    from sqlalchemy import event

    from newsdedup.config import Settings
    from newsdedup.workers.locks import StoryLocks
    from newsdedup.workers.pages import WorkerServices, process_staged_page

    settings = Settings(**settings_kwargs)
    services = WorkerServices.open(settings)
    if scheme == "one lock":
        services.pipeline.decision_lock = StoryLocks(
            services.redis, settings.dedup_lock_timeout, services.pipeline.params, one_for_all=True
        )
    counts = {"statements": 0, "transactions": 0, "redis": 0}

    def statement(*_: Any) -> None:
        counts["statements"] += 1

    def transaction(*_: Any) -> None:
        counts["transactions"] += 1

    for engine in (services.store.engine, services.staging.engine):
        event.listen(engine, "before_cursor_execute", statement)
        event.listen(engine, "commit", transaction)
    execute_command = services.redis.execute_command

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts["redis"] += 1
        return execute_command(*args, **kwargs)

    # Connections opened, scripts loaded, before the clock starts.
    services.store.ping()
    services.redis.ping()
    services.pipeline.index.is_complete()
    services.redis.execute_command = counted  # type: ignore[method-assign]
    for key in counts:
        counts[key] = 0
    outcomes: dict[str, int] = {}
    barrier.wait()
    started = time.time()
    for page_id, job in work:
        kind = process_staged_page(services, page_id, prepared=job.prepared)
        outcomes[kind] = outcomes.get(kind, 0) + 1
    finished = time.time()
    locks = services.pipeline.decision_lock.stats  # type: ignore[attr-defined]
    results.put(
        {
            "started": started,
            "finished": finished,
            "pages": len(work),
            "outcomes": outcomes,
            "held_s": locks.held_seconds,
            "waited_s": locks.waited_seconds,
            "taken": locks.taken,
            "conflicts": locks.conflicts,
            "counter_s": services.store.counter_seconds,
            "counter_writes": services.store.counter_writes,
            **counts,
        }
    )
    services.close()


def run_once(jobs: list[Job], scheme: str, k: int, redis_url: str) -> dict[str, Any]:
    import psycopg
    import redis

    from newsdedup.config import Settings
    from newsdedup.store import Store
    from newsdedup.store.staging import Staging

    database = f"newsdedup_bench_scaleout_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{database}"')
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    settings_kwargs = {"database_url": database_url, "redis_url": redis_url, "lsh_basename": "scaleout"}
    try:
        store = Store.open(database_url)  # migrated, and its (empty) index built, before the clock starts
        try:
            from newsdedup.dedup import RedisIndex
            from newsdedup.pipeline.services import dedup_params
            from newsdedup.workers.index_repair import rebuild

            settings = Settings(**settings_kwargs)
            rebuild(RedisIndex(client, dedup_params(settings), "scaleout", owner=store.identity()), store, 30)
        finally:
            store.close()
        staging = Staging.open(database_url, migrate=False)
        try:
            ids = [page_id for page_id, _ in staging.stage_many([job.page for job in jobs])]
        finally:
            staging.close()
        # Round robin: a copy (right after its original) goes to the next process.
        shares: list[list[tuple[int, Job]]] = [[] for _ in range(k)]
        for n, (page_id, job) in enumerate(zip(ids, strip_html(jobs))):
            shares[n % k].append((page_id, job))
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(k)
        results = context.Queue()
        processes = [
            context.Process(target=_worker, args=(settings_kwargs, scheme, share, barrier, results))
            for share in shares
        ]
        for process in processes:
            process.start()
        reports = [results.get(timeout=1800) for _ in processes]
        for process in processes:
            process.join(timeout=60)
        failed = [p.exitcode for p in processes if p.exitcode != 0]
        if failed:
            raise RuntimeError(f"worker processes exited with {failed}")
        store = Store.open(database_url, migrate=False)
        try:
            articles = articles_of(store.feed_reader.feed())
        finally:
            store.close()
        # The order the pages were decided in: each marks its row done under its story locks,
        # so two pages that could find each other are in the order they were decided.
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as conn:
            decided = [row[0] for row in conn.execute("SELECT id FROM staged_pages ORDER BY updated_at, id")]
    finally:
        client.flushdb()
        client.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
    pages = sum(r["pages"] for r in reports)
    wall = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    outcomes: dict[str, int] = {}
    for report in reports:
        for kind, n in report["outcomes"].items():
            outcomes[kind] = outcomes.get(kind, 0) + n
    taken = sum(r["taken"] for r in reports) or 1
    counter_writes = sum(r["counter_writes"] for r in reports) or 1
    return {
        "scheme": scheme,
        "processes": k,
        "pages": pages,
        "seconds": wall,
        "rate": pages / wall,
        "outcomes": outcomes,
        "lock_held_ms": 1000 * sum(r["held_s"] for r in reports) / taken,
        "lock_waited_ms": 1000 * sum(r["waited_s"] for r in reports) / taken,
        "conflicts_per_page": sum(r["conflicts"] for r in reports) / pages,
        "counter_held_ms": 1000 * sum(r["counter_s"] for r in reports) / counter_writes,
        "counter_writes": counter_writes,
        "statements_per_page": sum(r["statements"] for r in reports) / pages,
        "transactions_per_page": sum(r["transactions"] for r in reports) / pages,
        "redis_calls_per_page": sum(r["redis"] for r in reports) / pages,
        "articles": articles,
        "order": [ids.index(page_id) for page_id in decided],
    }


def main(argv: list[str] | None = None) -> int:
    parser = data_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4,8", help="numbers of processes (default 1,2,4,8)")
    parser.add_argument(
        "--copies", type=float, default=0.5, help="share of pages that get a syndicated copy (default 0.5)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each K; the fastest counts")
    parser.add_argument(
        "--redis-url", default=REDIS_URL, help=f"a Redis database to FLUSHDB (default {REDIS_URL})"
    )
    parser.add_argument("--quick", action="store_true", help="60 pages, K = 1 and 4")
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-lock baseline")
    args = parser.parse_args(argv)
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    ks = [1, 4] if args.quick else [int(k) for k in args.workers.split(",")]
    limit = args.limit or (60 if args.quick else 0)
    schemes = SCHEMES[:1] if args.no_baseline else SCHEMES

    started = time.perf_counter()
    jobs = prepare_jobs(folder, limit, args.copies)
    print(
        f"{len(jobs)} pages ({sum(1 for j in jobs if j.page.source != 'fundus')} copies), extracted in "
        f"{time.perf_counter() - started:.1f}s; load average {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    embedded = embedded_articles(jobs)

    runs: list[dict[str, Any]] = []
    for _ in range(max(1, args.repeat)):
        for k in ks:  # interleaved: a change of load hits both schemes
            for scheme in schemes:
                run = run_once(jobs, scheme, k, args.redis_url)
                articles = run.pop("articles")
                run["same_as_embedded"] = articles == embedded_articles([jobs[n] for n in run.pop("order")])
                run["same_as_embedded_in_arrival_order"] = articles == embedded
                run["load"] = os.getloadavg()[0]
                print(
                    f"  {scheme}, K={k}: {run['rate']:.1f} decisions/s, locks held {run['lock_held_ms']:.2f} ms, "
                    f"counter held {run['counter_held_ms']:.2f} ms, load {run['load']:.1f}",
                    file=sys.stderr,
                )
                runs.append(run)
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for run in runs:
        key = (run["scheme"], run["processes"])
        if key not in best or run["rate"] > best[key]["rate"]:
            best[key] = run

    rows = []
    for scheme in schemes:
        base = best[(scheme, ks[0])]["rate"] if ks[0] == 1 else None
        for k in ks:
            run = best[(scheme, k)]
            rows.append(
                (
                    scheme,
                    k,
                    run["pages"],
                    run["seconds"],
                    run["rate"],
                    run["rate"] / base if base else None,
                    run["lock_held_ms"],
                    run["lock_waited_ms"],
                    run["counter_held_ms"],
                    run["statements_per_page"],
                    run["transactions_per_page"],
                    run["redis_calls_per_page"],
                    "yes" if run["same_as_embedded"] else "NO",
                    "yes" if run["same_as_embedded_in_arrival_order"] else "no",
                )
            )
    print()
    print_table(
        [
            "scheme",
            "K",
            "pages",
            "seconds",
            "decisions/s",
            "× K=1",
            "locks held ms",
            "waited ms",
            "counter held ms",
            "SQL stmts/page",
            "txns/page",
            "Redis calls/page",
            "= embedded",
            "= embedded, staged order",
        ],
        rows,
    )
    story = {k: best[("story locks", k)] for k in ks}
    if 1 in story and 4 in story:
        ratio = story[4]["rate"] / story[1]["rate"]
        print(
            f"\ngoal: story locks, K=4 ≥ {GOAL_K4} × K=1 → {'met' if ratio >= GOAL_K4 else 'MISSED'} ({ratio:.2f})"
        )
    serial = statistics.median(run["counter_held_ms"] for run in story.values())
    print(
        f"cluster-wide serialized time per page (seq counter held, median over K): {serial:.2f} ms "
        f"→ at most {1000 / serial:.0f} decisions/s for any number of workers on this PostgreSQL"
    )
    outcomes = story[ks[0]]["outcomes"]
    print(f"outcomes (story locks, K={ks[0]}): {outcomes}")
    write_results(
        "scaleout",
        {
            "pages": len(jobs),
            "copies": sum(1 for j in jobs if j.page.source != "fundus"),
            "workers": ks,
            "repeat": args.repeat,
            "goal_k4_ratio": GOAL_K4,
            "best": [best[(scheme, k)] for scheme in schemes for k in ks],
            "runs": runs,
            "serialized_ms_median": serial,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
