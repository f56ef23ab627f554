"""Dedup decision latency and Redis memory of the candidate index at 10 k, 100 k and 1 M articles.

    python -m bench.index_scale [--sizes 10000,100000[,1000000]] [--quick] [--queries N]
                                [--redis-url redis://127.0.0.1:6379/9] [--no-memory-index]
    python -m bench.index_scale --stories [--sizes 10000,100000] [--per-day 2000]

``--stories`` measures story assignment instead (bench/story_scale.py: p99 assignment time,
CPU and storage per article on a SQLite store).

Synthetic fingerprints (no data needed): article ``i`` has a random MinHash signature and eight
random long-paragraph hashes, all drawn from a generator seeded with ``i``, so any article can
be rebuilt on demand instead of kept. Articles arrive evenly over ``--days`` days (default
45: one and a half candidate windows) on a fake clock handed to ``RedisIndex(now=...)``, so the
candidate window and the generation roll-over run as they would in production.

Per size and index (in memory: ``InMemoryIndex``; Redis: ``RedisIndex`` in its own database,
flushed before each size; only that database is touched):

- fill time (the Redis fill is pipelined, 1000 adds per round trip);
- decision latency, p50 / p99 over ``--queries`` queries, half near-duplicates of recent
  articles (a quarter of the signature redrawn, the first paragraph kept) and half unrelated
  texts: ``index.query`` plus verification of every candidate (``dedup.similarity`` against its
  fingerprint; rebuilding the candidate's fingerprint is not timed, the store's lookup is
  measured in bench/throughput.py);
- recall: share of near-duplicate queries whose source article was among the candidates;
- Redis server time per query: EVALSHA microseconds per call during the queries, from
  ``INFO commandstats`` (server-wide: tells Redis's share of the latency from the client's);
- Redis: ``used_memory`` after the fill minus before, divided by the articles still inside
  the window (``len(index)``), and by all articles ever added; memory sampled as the clock
  passes each window boundary shows whether growth stops once old articles leave the window.

Goals: p99 ≤ 2 ms at 1 M in Redis; ≤ 1.5 KB per indexed article in Redis; memory flat once
the window is full. Results: ``bench/results/index_scale.json``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.common import print_table, write_results
from newsdedup.dedup import DedupParams, Fingerprint, InMemoryIndex, RedisIndex, similarity

PARAMS = DedupParams()
DAY = 86400.0
START = 1_700_000_000.0  # the fake clock starts here (any time works)
PARAGRAPHS = 8
BATCH = 1000


def make_fingerprint(i: int) -> Fingerprint:
    rng = np.random.default_rng(i)
    signature = rng.integers(0, 2**32 - 1, size=PARAMS.num_perm, dtype=np.uint32)
    paragraphs = tuple(
        hashlib.blake2b(f"{i}:{p}".encode(), digest_size=8).hexdigest() for p in range(PARAGRAPHS)
    )
    return Fingerprint(
        text_hash=f"{i:064x}",
        signature=signature.astype("<u4").tobytes(),
        shingle_count=400,
        paragraph_hashes=paragraphs,
    )


def near_duplicate(i: int, seed: int) -> Fingerprint:
    """A copy of article i: a quarter of the signature redrawn (Jaccard ≈ 0.6), same lead paragraph."""
    base = make_fingerprint(i)
    rng = np.random.default_rng(10**9 + seed)
    values = np.frombuffer(base.signature, dtype="<u4").copy()
    changed = rng.choice(PARAMS.num_perm, size=PARAMS.num_perm // 4, replace=False)
    values[changed] = rng.integers(0, 2**32 - 1, size=len(changed), dtype=np.uint32)
    paragraphs = base.paragraph_hashes[:1] + tuple(f"{seed:016x}"[-16:] for _ in range(1))
    return Fingerprint(
        text_hash=f"dup{seed}", signature=values.tobytes(), shingle_count=400, paragraph_hashes=paragraphs
    )


def key_of(i: int) -> str:
    # Shaped like store.index_key: a 32-hex article id and a version.
    return f"{hashlib.md5(str(i).encode()).hexdigest()}:1"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Run:
    index: str
    size: int
    fill_s: float
    p50_ms: float
    p99_ms: float
    mean_candidates: float
    recall: float
    live: int
    memory_bytes: int | None = None
    bytes_per_live: float | None = None
    bytes_per_added: float | None = None
    memory_by_window: list[dict[str, Any]] | None = None
    redis_keys: int | None = None
    key_bytes: int | None = None  # sum of MEMORY USAGE
    key_bytes_per_live: float | None = None
    server_us_per_query: float | None = None  # EVALSHA time inside Redis (INFO commandstats)


def _latencies(
    index: Any, size: int, queries: int, arrival: Callable[[int], float], clock: Clock | None
) -> tuple[list[float], float, float]:
    by_key = {}
    rng = np.random.default_rng(7)
    # Near-duplicates of articles inside the window (the last half of the arrivals), and strangers.
    recent = rng.integers(size // 2, size, size=queries // 2)
    times, hits, candidates = [], 0, 0
    for q in range(queries):
        if q % 2 == 0:
            source = int(recent[q // 2])
            fp = near_duplicate(source, q)
        else:
            source = -1
            fp = make_fingerprint(10**8 + q)
        t0 = time.perf_counter()
        keys = index.query(fp)
        t1 = time.perf_counter()
        stored = [make_fingerprint(by_key.setdefault(k, _index_of(k, size))) for k in keys]
        t2 = time.perf_counter()
        for candidate in stored:
            similarity(fp, candidate)
        t3 = time.perf_counter()
        times.append((t1 - t0) + (t3 - t2))
        candidates += len(keys)
        hits += source >= 0 and key_of(source) in keys
    return times, hits / max(1, queries // 2), candidates / queries


_KEY_TO_INDEX: dict[str, int] = {}


def _index_of(key: str, size: int) -> int:
    return _KEY_TO_INDEX[key]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_memory(size: int, queries: int) -> Run:
    index = InMemoryIndex(PARAMS)
    started = time.perf_counter()
    for i in range(size):
        index.add(key_of(i), make_fingerprint(i))
    fill = time.perf_counter() - started
    times, recall, mean_candidates = _latencies(index, size, queries, lambda i: 0.0, None)
    result = Run(
        "memory",
        size,
        fill,
        1000 * percentile(times, 0.5),
        1000 * percentile(times, 0.99),
        mean_candidates,
        recall,
        len(index),
    )
    del index
    gc.collect()
    return result


def run_redis(client: Any, size: int, queries: int, days: float, window_days: float) -> Run:
    client.flushdb(asynchronous=True)  # FLUSHDB ASYNC: never blocks the shared server
    time.sleep(1.0)
    before = int(client.info("memory")["used_memory"])
    clock = Clock(START)
    # The operator's estimate of the article rate sizes the first generation of the empty index.
    index = RedisIndex(
        client,
        PARAMS,
        basename="bench",
        window_days=window_days,
        expected_per_day=round(size / days),
        now=clock,
    )
    step = days * DAY / size
    samples: list[dict[str, Any]] = []
    next_sample = window_days / 2
    started = time.perf_counter()
    for first in range(0, size, BATCH):
        items = []
        for i in range(first, min(size, first + BATCH)):
            items.append((key_of(i), make_fingerprint(i)))
        clock.t = START + first * step
        index.add_many(items)
        elapsed_days = (clock.t - START) / DAY
        if elapsed_days >= next_sample:
            used = int(client.info("memory")["used_memory"]) - before
            samples.append(
                {
                    "day": round(elapsed_days, 1),
                    "added": first + len(items),
                    "live": len(index),
                    "used_memory": used,
                }
            )
            next_sample += window_days / 2
    clock.t = START + size * step
    fill = time.perf_counter() - started
    index.drop_expired()
    used = int(client.info("memory")["used_memory"]) - before
    keys, key_bytes = memory_usage(client)
    live = len(index)
    samples.append({"day": round(days, 1), "added": size, "live": live, "used_memory": used})
    calls_before, usec_before = evalsha_stats(client)
    times, recall, mean_candidates = _latencies(index, size, queries, lambda i: 0.0, clock)
    calls_after, usec_after = evalsha_stats(client)
    return Run(
        "redis",
        size,
        fill,
        1000 * percentile(times, 0.5),
        1000 * percentile(times, 0.99),
        mean_candidates,
        recall,
        live,
        used,
        used / max(1, live),
        used / size,
        samples,
        keys,
        key_bytes,
        key_bytes / max(1, live),
        (usec_after - usec_before) / max(1, calls_after - calls_before),
    )


def evalsha_stats(client: Any) -> tuple[int, int]:
    """(calls, microseconds) of EVALSHA so far, server-wide: tells the time a query spends
    inside Redis from the round trip and the client (other clients' scripts count too)."""
    stats = client.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


def memory_usage(client: Any) -> tuple[int, int]:
    """(keys, sum of MEMORY USAGE over them) in this database: unlike used_memory, blind to
    what other clients of the server do meanwhile (it leaves out the keyspace's own tables)."""
    keys = total = 0
    batch: list[bytes] = []

    def flush() -> int:
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key, samples=0)
        return sum(v or 0 for v in pipe.execute())

    for key in client.scan_iter(count=5000):
        batch.append(key)
        if len(batch) == 5000:
            total += flush()
            keys += len(batch)
            batch = []
    if batch:
        total += flush()
        keys += len(batch)
    return keys, total


def stories_main(sizes: list[int], per_day: int) -> int:
    from bench.story_scale import run_all  # deferred: only --stories opens a store

    runs = []
    for size in sizes:
        print(f"stories, {size} articles ...", file=sys.stderr)
        runs.extend(run_all([size], per_day))
    print_table(
        [
            "articles",
            "p50 ms",
            "p99 ms",
            "CPU ms/article",
            "stories",
            "in index",
            "log rows",
            "key rows",
            "B/article",
            "peak RSS MiB",
        ],
        [
            (
                r.size,
                r.p50_ms,
                r.p99_ms,
                r.cpu_ms_per_article,
                r.stories,
                r.indexed_stories,
                r.term_rows,
                r.key_rows,
                round(r.bytes_per_article),
                round(r.peak_rss_mib),
            )
            for r in runs
        ],
    )
    write_results(
        "index_scale_stories",
        {"date": time.strftime("%Y-%m-%d"), "per_day": per_day, "runs": [r.__dict__ for r in runs]},
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="comma-separated article counts (1000000: ≈ 20 min more)"
    )
    parser.add_argument("--quick", action="store_true", help="10000 articles and 1000 queries (≈ 30 s)")
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument("--days", type=float, default=45.0, help="articles arrive evenly over this many days")
    parser.add_argument("--window-days", type=float, default=30.0, help="RedisIndex candidate window")
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/9",
        help="a database of its own: it is flushed (FLUSHDB) before each size",
    )
    parser.add_argument("--no-memory-index", action="store_true", help="Redis only")
    parser.add_argument("--no-redis", action="store_true", help="in memory only")
    parser.add_argument(
        "--stories", action="store_true", help="story assignment instead (bench/story_scale.py), on SQLite"
    )
    parser.add_argument("--per-day", type=int, default=2000, help="--stories: articles a day")
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    if args.stories:
        return stories_main(sizes, args.per_day)
    queries = 1000 if args.quick else args.queries

    client = None
    if not args.no_redis:
        import redis

        client = redis.Redis.from_url(args.redis_url)
        try:
            client.ping()
        except redis.ConnectionError:
            print(f"no Redis at {args.redis_url}: measuring the in-memory index only.", file=sys.stderr)
            client = None

    runs: list[Run] = []
    for size in sizes:
        _KEY_TO_INDEX.clear()
        _KEY_TO_INDEX.update((key_of(i), i) for i in range(size))
        if not args.no_memory_index:
            print(f"in memory, {size} articles ...", file=sys.stderr)
            runs.append(run_memory(size, queries))
        if client is not None:
            print(f"redis, {size} articles ...", file=sys.stderr)
            runs.append(run_redis(client, size, queries, args.days, args.window_days))
    print()
    print_table(
        [
            "index",
            "articles",
            "indexed",
            "fill s",
            "p50 ms",
            "p99 ms",
            "server µs",
            "candidates",
            "recall",
            "used MB",
            "B/indexed",
            "B/added",
            "keys",
            "MEMORY USAGE B/indexed",
        ],
        [
            (
                r.index,
                r.size,
                r.live,
                r.fill_s,
                r.p50_ms,
                r.p99_ms,
                r.server_us_per_query,
                r.mean_candidates,
                r.recall,
                None if r.memory_bytes is None else r.memory_bytes / 1e6,
                r.bytes_per_live,
                r.bytes_per_added,
                r.redis_keys,
                r.key_bytes_per_live,
            )
            for r in runs
        ],
    )
    for r in runs:
        if r.memory_by_window:
            print(
                f"\nredis memory as the clock runs, {r.size} articles over {args.days:g} days "
                f"(window {args.window_days:g} days):"
            )
            print_table(
                ["day", "added", "indexed", "used MB", "B/indexed"],
                [
                    (
                        s["day"],
                        s["added"],
                        s["live"],
                        s["used_memory"] / 1e6,
                        s["used_memory"] / max(1, s["live"]),
                    )
                    for s in r.memory_by_window
                ],
            )
    redis_runs = [r for r in runs if r.index == "redis"]
    memory_runs = {r.size: r for r in runs if r.index == "memory"}
    if redis_runs and memory_runs:
        print(
            "\nredis against in memory (same run): p99 ratio "
            + ", ".join(
                f"{r.size}: {r.p99_ms / memory_runs[r.size].p99_ms:.2f}×"
                for r in redis_runs
                if r.size in memory_runs
            )
        )
    if redis_runs:
        biggest = max(redis_runs, key=lambda r: r.size)
        print(
            f"goals at {biggest.size}: p99 {biggest.p99_ms:.2f} ms (≤ 2), "
            f"{(biggest.bytes_per_live or 0) / 1000:.2f} KB per indexed article (≤ 1.5)"
        )
    if client is not None:
        client.flushdb(asynchronous=True)
        client.close()
    write_results(
        "index_scale",
        {
            "params": PARAMS.__dict__,
            "queries": queries,
            "days": args.days,
            "window_days": args.window_days,
            "runs": [r.__dict__ for r in runs],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
