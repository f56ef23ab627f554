"""Distributed crawls under faults: worker SIGKILLs, a PostgreSQL outage, a Redis outage.

    python -m bench.faults [--rounds 10] [--outage 4] [--kills 3] [--seed 1] [--only pg|redis|kills|none]

Each round builds a fresh store, serves five loopback news sites (60 stories, 40 syndicated
copies: 100 pages), starts two ``newsdedup worker`` processes and runs ``newsdedup crawl``
against PostgreSQL and Redis reached through fault relays (tests/faultkit.py). While the
crawl runs, at random moments: ``--kills`` SIGKILLs of a worker (restarted 1 s later), one
PostgreSQL outage and one Redis outage of ``--outage`` seconds each (every connection reset,
new ones refused). Then it counts what the store holds.

It prints per round: pages fetched (the crawl's summary), URLs and articles stored, pages lost
(URLs of the web the store does not hold), stories split over several articles, articles
doubled (more articles than stories), the crawl's exit code and time, and the time lost to the
faults against a fault-free round measured first in the same run. Needs the machine's Redis
and PostgreSQL; writes ``bench/results/faults.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import redis

from bench.common import REPO, clean_environment, print_table, write_results

sys.path.insert(0, str(REPO / "tests"))
from faultkit import Cluster, FaultRelay, build_sites, count_store, story_urls, write_sources

POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
SUMMARY = re.compile(r"(\d+) pages fetched")


def run_round(
    work: Path,
    seed: int,
    faults: set[str],
    outage: float,
    kills: int,
    redis_db: int,
    window: float = 10.0,
    crawl_timeout: float = 900,
) -> dict[str, object]:
    """One crawl; the faults fall at random moments of its first ``window`` seconds."""
    from newsdedup.siteserver import serve_sites

    rng = random.Random(seed)
    name = f"newsdedup_faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(f"{REDIS}/{redis_db}").flushdb()
    pg_relay = FaultRelay("127.0.0.1", 5432)
    redis_relay = FaultRelay("127.0.0.1", 6379)
    root = work / f"round-{seed}"
    root.mkdir(parents=True)
    layout = build_sites(root / "www")
    servers = serve_sites(root / "www")
    cluster = None
    crawl: subprocess.Popen[str] | None = None
    try:
        base_urls = {site: server.base_url for site, server in servers.items()}
        sources = write_sources(base_urls, root / "sources.yaml")
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:{pg_relay.port}/{name}"
        env = clean_environment()
        env.update(
            NEWSDEDUP_DATABASE_URL=database_url,
            NEWSDEDUP_REDIS_URL=f"redis://127.0.0.1:{redis_relay.port}/{redis_db}",
            NEWSDEDUP_CONFIG=str(sources),
            NEWSDEDUP_LSH_BASENAME="faults",
            NEWSDEDUP_ALLOW_PRIVATE_ADDRESSES="1",
            NEWSDEDUP_AUTOTHROTTLE="0",
            PYTHONUNBUFFERED="1",
        )
        # The store exists before the workers start (they would migrate it too).
        subprocess.run(
            [sys.executable, "-m", "newsdedup", "sources"], env=env, cwd=REPO, capture_output=True, check=True
        )
        cluster = Cluster(env, root)
        for worker in ("w1", "w2"):
            cluster.start(worker)
        time.sleep(4)  # workers up (a crawl started before them just waits longer)
        events: list[str] = []
        started = time.monotonic()
        crawl = subprocess.Popen(
            [sys.executable, "-m", "newsdedup", "crawl"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        plan: list[tuple[float, str]] = []
        if "kills" in faults:
            plan += [(rng.uniform(0.5, window), "kill") for _ in range(kills)]
        if "pg" in faults:
            plan.append((rng.uniform(0.5, window), "pg"))
        if "redis" in faults:
            plan.append((rng.uniform(0.5, window), "redis"))
        plan.sort()

        def inject() -> None:
            for at, what in plan:
                delay = at - (time.monotonic() - started)
                if delay > 0:
                    time.sleep(delay)
                if crawl.poll() is not None:
                    return
                now = time.monotonic() - started
                if what == "kill":
                    worker = rng.choice(["w1", "w2"])
                    cluster.kill(worker)
                    events.append(f"kill {worker} @{now:.1f}s")
                    time.sleep(1)
                    cluster.start(worker)
                elif what == "pg":
                    pg_relay.outage(outage)
                    events.append(f"pg {outage:g}s @{now:.1f}s")
                else:
                    redis_relay.outage(outage)
                    events.append(f"redis {outage:g}s @{now:.1f}s")

        injector = threading.Thread(target=inject, daemon=True)
        injector.start()
        try:
            stdout, stderr = crawl.communicate(timeout=crawl_timeout)
        except subprocess.TimeoutExpired:
            crawl.kill()
            stdout, stderr = crawl.communicate()
        elapsed = time.monotonic() - started
        injector.join(timeout=outage + 5)
        pg_relay.restore()
        redis_relay.restore()
        urls = story_urls(layout, base_urls)
        counted = count_store(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", urls)
        fetched = SUMMARY.search(stdout)
        return {
            "seed": seed,
            "events": events,
            "exit": crawl.returncode,
            "seconds": round(elapsed, 1),
            "fetched": int(fetched.group(1)) if fetched else None,
            "summary": stdout.strip().splitlines()[-1:],
            "pages": sum(len(u) for u in urls.values()),
            "stories": len(urls),
            "urls_stored": counted.urls,
            "articles": counted.articles,
            "lost": counted.missing_urls,
            "stories_lost": len(urls) - counted.stories_stored,
            "split": counted.split_stories,
            "mixed": counted.mixed_articles,
            "doubled": max(0, counted.articles - counted.stories_stored),
            "stderr_tail": stderr[-1500:] if crawl.returncode else "",
        }
    finally:
        if crawl is not None and crawl.poll() is None:
            crawl.kill()
        if cluster is not None:
            cluster.stop()
        for server in servers.values():
            server.stop()
        pg_relay.close()
        redis_relay.close()
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--outage", type=float, default=4.0, help="seconds of each outage")
    parser.add_argument("--kills", type=int, default=3, help="worker SIGKILLs per round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only", choices=["pg", "redis", "kills", "none"], help="one kind of fault per round"
    )
    parser.add_argument("--redis-db", type=int, default=11, help="Redis database the rounds use (flushed)")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds a round's crawl may take before it is killed"
    )
    args = parser.parse_args(argv)
    # Killed politely (SIGTERM), still stop the workers and crawls of the round in progress.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    faults = {"pg", "redis", "kills"} if args.only is None else ({args.only} - {"none"})
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="newsdedup-faults-") as work:
        baseline = run_round(Path(work), 0, set(), args.outage, 0, args.redis_db, crawl_timeout=args.timeout)
        print(
            f"fault-free round: {baseline['seconds']} s, exit {baseline['exit']}, "
            f"{baseline['urls_stored']}/{baseline['pages']} URLs, {baseline['articles']} articles",
            flush=True,
        )
        for n in range(args.rounds):
            # Faults fall while the fault-free crawl would still be running.
            window = max(2.0, 0.8 * float(baseline["seconds"]))
            result = run_round(
                Path(work),
                args.seed + n,
                faults,
                args.outage,
                args.kills,
                args.redis_db,
                window,
                args.timeout,
            )
            result["time_lost"] = round(float(result["seconds"]) - float(baseline["seconds"]), 1)
            results.append(result)
            print(f"round {n + 1}: {result}", flush=True)
            rows.append(
                [
                    n + 1,
                    "; ".join(result["events"]) or "-",
                    result["fetched"],
                    result["urls_stored"],
                    result["articles"],
                    result["lost"],
                    result["doubled"],
                    result["split"],
                    result["exit"],
                    result["seconds"],
                    result["time_lost"],
                ]
            )
    print_table(
        [
            "round",
            "faults",
            "fetched",
            "URLs stored",
            "articles",
            "lost",
            "doubled",
            "split",
            "exit",
            "seconds",
            "lost to faults (s)",
        ],
        rows,
    )
    ok = all(r["lost"] == 0 and r["doubled"] == 0 and r["split"] == 0 and r["exit"] == 0 for r in results)
    print(f"fault-free round: {baseline['seconds']} s; every round lossless, undoubled, exit 0: {ok}")
    write_results(
        "faults",
        {"baseline": baseline, "rounds": results, "outage": args.outage, "kills": args.kills, "all_ok": ok},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
