"""Benchmark of the feed API: one 1,000-record page, and requests/s of /v1/feed?limit=100.

    python -m bench.feed_api [--articles 100000] [--seconds 10] [--concurrency 32]
                             [--postgres postgresql://postgres@127.0.0.1:5432/postgres | --no-postgres]

For SQLite (a temporary file) and PostgreSQL (a temporary database, dropped afterwards; skipped
when not reachable) it:

1. fills the store with ``--articles`` articles: the schema by ``Store.open`` (Alembic), the
   rows by bulk INSERTs through the store's own SQLAlchemy tables (``articles``, ``urls``,
   and the ``seq`` counter), 5,000 rows a statement batch: what ``Store.apply`` would write
   for new articles, minus the versions table the feed never reads. ~2 KB of text each.
2. times one page of 1,000 records: ``store.feed_reader.feed(after, 1000)`` in this process (the
   baseline) against ``GET /v1/feed?after=..&limit=1000`` (median of several, random cursors).
3. measures requests/s of ``GET /v1/feed?after=<random>&limit=100`` for ``--seconds`` with
   ``--concurrency`` concurrent keep-alive httpx clients against ``newsdedup serve`` started
   as its own process (as operators run it), against the baseline of the same number of
   threads calling ``store.feed_reader.feed(after, 100)`` directly.

Prints a table and writes bench/results/feed_api.json. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, update

from bench.common import clean_environment
from newsdedup.store import Store
from newsdedup.store.models import Article, Counter, Url

RESULTS = Path(__file__).resolve().parent / "results" / "feed_api.json"
BATCH = 5000
PAGE_RUNS = 15
WORDS = [
    "harbour",
    "council",
    "ferry",
    "strike",
    "terminal",
    "expansion",
    "mayor",
    "budget",
    "port",
    "union",
    "vote",
    "weather",
    "storm",
    "bridge",
    "repairs",
    "schedule",
    "commuters",
    "minister",
    "report",
    "court",
    "ruling",
]


# --- filling ---------------------------------------------------------------------------------


def fill(store: Store, count: int) -> float:
    """Bulk-insert ``count`` articles with one URL each; returns seconds taken."""
    rng = random.Random(7)
    start = time.perf_counter()
    base = datetime(2024, 1, 1, tzinfo=UTC)
    text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(60)) for _ in range(5))  # ~2 KB
    with store.engine.begin() as conn:
        for first in range(1, count + 1, BATCH):
            seqs = range(first, min(first + BATCH, count + 1))
            articles, urls = [], []
            for seq in seqs:
                article_id = uuid.UUID(int=seq).hex
                url = f"https://news{seq % 50}.example/2024/story-{seq}.html"
                when = base + timedelta(minutes=seq)
                articles.append(
                    {
                        "id": article_id,
                        "seq": seq,
                        "canonical_url": url,
                        "source": f"source-{seq % 50}",
                        "current_version": 1,
                        "title": f"Story {seq}: {' '.join(WORDS[seq % 7 : seq % 7 + 5])}",
                        "text": f"{seq} {text}",
                        "authors": ["Ann Writer"],
                        "published_at": when,
                        "modified_at": when,
                        "language": "en",
                        "created_at": when,
                        "updated_at": when,
                    }
                )
                urls.append(
                    {
                        "url": url,
                        "article_id": article_id,
                        "relation": "original",
                        "source": f"source-{seq % 50}",
                        "first_seen": when,
                        "last_seen": when,
                        "last_text_hash": None,
                    }
                )
            conn.execute(insert(Article), articles)
            conn.execute(insert(Url), urls)
        conn.execute(update(Counter).where(Counter.name == "seq").values(value=count))
    return time.perf_counter() - start


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def api_server(database_url: str, **environment: str) -> Iterator[str]:
    """``newsdedup serve`` in its own process, so the load generator does not share its GIL;
    ``environment`` adds NEWSDEDUP_* settings (bench/console.py gives a token and a sources file)."""
    port = free_port()
    env = clean_environment()
    env["NEWSDEDUP_DATABASE_URL"] = database_url
    env.update(environment)
    process = subprocess.Popen(
        [sys.executable, "-m", "newsdedup", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"newsdedup serve exited: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("newsdedup serve did not become healthy within 60 s")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


# --- measurements ------------------------------------------------------------------------------


def time_page(store: Store, base_url: str, count: int) -> dict[str, float]:
    rng = random.Random(1)
    cursors = [rng.randrange(0, count - 1000) for _ in range(PAGE_RUNS)]
    raw, http = [], []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        client.get("/v1/feed", params={"limit": 1000})  # warm the connection and caches
        store.feed_reader.feed(after=0, limit=1000)
        for after in cursors:
            start = time.perf_counter()
            records = store.feed_reader.feed(after=after, limit=1000)
            raw.append(time.perf_counter() - start)
            assert len(records) == 1000
            start = time.perf_counter()
            response = client.get("/v1/feed", params={"after": after, "limit": 1000})
            body = response.content
            http.append(time.perf_counter() - start)
            assert response.status_code == 200 and len(response.json()["items"]) == 1000
    return {
        "store_ms": statistics.median(raw) * 1000,
        "http_ms": statistics.median(http) * 1000,
        "http_bytes": len(body),
    }


def raw_throughput(store: Store, count: int, seconds: float, threads: int) -> float:
    """newsdedup.store.feed_reader.feed(after, 100) calls/s from ``threads`` threads (what the API's threadpool does)."""
    stop = time.monotonic() + seconds
    done = [0] * threads

    def work(slot: int) -> None:
        rng = random.Random(slot)
        while time.monotonic() < stop:
            store.feed_reader.feed(after=rng.randrange(0, count - 100), limit=100)
            done[slot] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / (time.monotonic() - start)


def http_throughput(base_url: str, count: int, seconds: float, concurrency: int) -> dict[str, float]:
    async def run() -> dict[str, float]:
        # Several small clients: one httpx client's pool gets slow with many connections.
        clients = [
            httpx.AsyncClient(base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=8))
            for _ in range((concurrency + 7) // 8)
        ]
        latencies: list[float] = []
        errors = 0
        stop = time.monotonic() + seconds

        async def loop(slot: int) -> None:
            nonlocal errors
            rng = random.Random(slot)
            client = clients[slot % len(clients)]
            while time.monotonic() < stop:
                start = time.perf_counter()
                response = await client.get(
                    "/v1/feed", params={"after": rng.randrange(0, count - 100), "limit": 100}
                )
                await response.aread()
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    errors += 1

        start = time.monotonic()
        await asyncio.gather(*(loop(i) for i in range(concurrency)))
        elapsed = time.monotonic() - start
        for client in clients:
            await client.aclose()
        latencies.sort()
        return {
            "rps": len(latencies) / elapsed,
            "requests": len(latencies),
            "errors": errors,
            "p50_ms": latencies[len(latencies) // 2] * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        }

    return asyncio.run(run())


def bench_backend(name: str, database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n[{name}] filling {args.articles:,} articles ...", flush=True)
    store = Store.open(database_url)
    try:
        fill_seconds = fill(store, args.articles)
        print(f"[{name}] filled in {fill_seconds:.1f} s; serving ...", flush=True)
        with api_server(database_url) as base_url:
            page = time_page(store, base_url, args.articles)
            raw_rps = raw_throughput(store, args.articles, min(args.seconds, 5.0), args.threads)
            http = http_throughput(base_url, args.articles, args.seconds, args.concurrency)
    finally:
        store.close()
    return {
        "backend": name,
        "articles": args.articles,
        "fill_seconds": fill_seconds,
        "page_1000": page,
        "feed_100": {
            "store_calls_per_s": raw_rps,
            "store_threads": args.threads,
            **http,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
        },
    }


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str | None]:
    import psycopg

    name = f"newsdedup_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL at {admin_url} not reachable ({exc}); skipping it")
        yield None
        return
    try:
        yield admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(results: list[dict[str, Any]]) -> None:
    print("\nfeed API benchmark (medians; ratios against the direct store call in the same run)")
    header = (
        f"{'backend':<11}{'fill s':>8}{'page1000 store ms':>19}{'page1000 HTTP ms':>18}{'ratio':>7}"
        f"{'store calls/s':>15}{'HTTP req/s':>12}{'ratio':>7}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        page, feed = r["page_1000"], r["feed_100"]
        print(
            f"{r['backend']:<11}{r['fill_seconds']:>8.1f}{page['store_ms']:>19.1f}{page['http_ms']:>18.1f}"
            f"{page['http_ms'] / page['store_ms']:>7.2f}{feed['store_calls_per_s']:>15.0f}{feed['rps']:>12.0f}"
            f"{feed['rps'] / feed['store_calls_per_s']:>7.2f}{feed['p50_ms']:>8.1f}{feed['p99_ms']:>8.1f}"
            f"{feed['errors']:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent HTTP requests in flight")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads of the direct store.feed_reader.feed() baseline"
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin URL; a temporary database is created and dropped",
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.articles < 2000:
        parser.error("--articles must be at least 2000")

    results = []
    with tempfile.TemporaryDirectory(prefix="newsdedup-bench-") as tmp:
        results.append(bench_backend("sqlite", f"sqlite:///{tmp}/feed.db", args))
    if not args.no_postgres:
        with postgres_database(args.postgres) as url:
            if url:
                results.append(bench_backend("postgresql", url, args))

    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(
        f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
    )


if __name__ == "__main__":
    main()
