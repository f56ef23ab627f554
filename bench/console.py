"""Benchmark of the web console and the search: how long each page takes to serve at
100,000 articles, on SQLite and PostgreSQL.

    python -m bench.console [--articles 100000] [--runs 15]
                            [--postgres postgresql://postgres@127.0.0.1:5432/postgres | --no-postgres]

For SQLite (a temporary file) and PostgreSQL (a temporary database, dropped afterwards; skipped
when not reachable) it:

1. fills the store through its own tables (bulk INSERTs; the full-text index is kept by the
   migration's triggers, as in production): ``--articles`` articles of ~1.5 KB of text drawn
   from a Zipf-distributed vocabulary of 5,000 words over 50 sources, one article in ten with a
   second version and a syndicated copy, a decision for every URL, and 20,000 failures;
2. starts ``newsdedup serve`` as its own process (as operators run it), logs in through the
   form, and times each page (median and slowest of ``--runs`` requests, after one warm-up):
   sources, crawls, the article list (plain and each filter), search pages for a frequent, a
   middling and a rare word and two words, one article with its versions, diff and reasons,
   and ``GET /v1/search``.

Targets (issue: the console): every page under 200 ms, search under 300 ms. Prints a table and
writes bench/results/console.json. Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, update

from bench.common import print_table, write_results
from bench.feed_api import api_server, postgres_database
from newsdedup.store import Store
from newsdedup.store.models import Article, Counter, DecisionRow, Failure, Url, Version

BATCH = 2000
SOURCES = 50
VOCABULARY = 5000
TOKEN = "bench-console-token"
PAGE_TARGET_MS = 200
SEARCH_TARGET_MS = 300


def word(n: int) -> str:
    # Pronounceable, distinct, deterministic: "w" + base-26 digits.
    letters = ""
    while True:
        n, r = divmod(n, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[r]
        if n == 0:
            return "w" + letters


def fill(store: Store, count: int) -> dict[str, Any]:
    rng = random.Random(7)
    words = [word(n) for n in range(VOCABULARY)]
    weights = [1 / (rank + 1) for rank in range(VOCABULARY)]  # Zipf: a few words are everywhere
    base = datetime(2024, 1, 1, tzinfo=UTC)
    start = time.perf_counter()
    with store.engine.begin() as conn:
        for first in range(1, count + 1, BATCH):
            articles, versions, urls, decisions = [], [], [], []
            for seq in range(first, min(first + BATCH, count + 1)):
                article_id = uuid.UUID(int=seq).hex
                source = f"source-{seq % SOURCES}"
                url = f"https://news{seq % SOURCES}.example/2024/story-{seq}.html"
                when = base + timedelta(minutes=seq)
                paragraphs = [" ".join(rng.choices(words, weights, k=40)) for _ in range(5)]
                text = "\n".join(paragraphs)
                title = " ".join(rng.choices(words, weights, k=8))
                changed = seq % 10 == 0
                articles.append(
                    dict(
                        id=article_id,
                        seq=seq,
                        canonical_url=url,
                        source=source,
                        current_version=2 if changed else 1,
                        title=title,
                        text=text,
                        authors=["Ann Writer"],
                        published_at=when,
                        modified_at=when,
                        language="en" if seq % 4 else "de",
                        created_at=when,
                        updated_at=when,
                    )
                )
                texts = [text]
                if changed:
                    texts.insert(0, text.replace(paragraphs[0].split()[0], "earlier", 1))
                for number, body in enumerate(texts, 1):
                    versions.append(
                        dict(
                            article_id=article_id,
                            version=number,
                            title=title,
                            text=body,
                            authors=["Ann Writer"],
                            published_at=when,
                            modified_at=when,
                            language="en",
                            url=url,
                            source=source,
                            fetched_at=when,
                            similarity=0.9 if number > 1 else None,
                            text_hash=f"{seq}-{number}",
                            signature=b"",
                            shingle_count=200,
                            paragraph_hashes=[],
                            shingles=b"",
                        )
                    )
                pages = [(url, "original", source)]
                if changed:
                    pages.append((f"https://wire.example/{seq}.html", "syndicated", "wire"))
                for page_url, relation, page_source in pages:
                    urls.append(
                        dict(
                            url=page_url,
                            article_id=article_id,
                            relation=relation,
                            source=page_source,
                            first_seen=when,
                            last_seen=when,
                            last_text_hash=None,
                            last_version=len(texts),
                        )
                    )
                    decisions.append(
                        dict(
                            url=page_url,
                            article_id=article_id,
                            kind="new" if relation == "original" else "duplicate",
                            relation=relation,
                            source=page_source,
                            similarity=None if relation == "original" else 0.93,
                            containment=None if relation == "original" else 0.97,
                            matched_version=None if relation == "original" else 1,
                            version=len(texts),
                            reason="new article: no similar text seen before"
                            if relation == "original"
                            else f"near-duplicate of article {article_id[:8]} v1 (Jaccard 0.93, 97% of the page in it)",
                            decided_at=when,
                        )
                    )
            conn.execute(insert(Article), articles)
            conn.execute(insert(Version), versions)
            conn.execute(insert(Url), urls)
            conn.execute(insert(DecisionRow), decisions)
        conn.execute(
            insert(Failure),
            [
                dict(
                    url=f"https://news{n % SOURCES}.example/broken-{n}.html",
                    source=f"source-{n % SOURCES}",
                    crawl_id="bench",
                    stage="fetch",
                    reason="HTTP 503",
                    detail="",
                    at=base + timedelta(seconds=n),
                )
                for n in range(20_000)
            ],
        )
        conn.execute(update(Counter).where(Counter.name == "seq").values(value=count))
    # Frequencies for the search queries: a frequent, a middling and a rare word.
    return {"seconds": time.perf_counter() - start, "words": words}


def write_sources(directory: Path) -> Path:
    path = directory / "sources.yaml"
    lines = ["sources:"]
    for n in range(SOURCES):
        lines += [
            f"  - name: source-{n}",
            f"    feeds: [http://127.0.0.1:9/{n}/rss.xml]",
            "    schedule: 15m",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def pages_to_time(words: list[str], count: int) -> list[tuple[str, str, int]]:
    """(label, path, target ms) of every page measured."""
    changed = uuid.UUID(int=(count // 20) * 10).hex  # an article with two versions and a copy
    return [
        ("sources (50)", "/ui/sources", PAGE_TARGET_MS),
        ("crawls", "/ui/crawls", PAGE_TARGET_MS),
        ("articles", "/ui/articles", PAGE_TARGET_MS),
        ("articles, next page", f"/ui/articles?before={count // 2}", PAGE_TARGET_MS),
        ("articles of a source", "/ui/articles?source=source-7", PAGE_TARGET_MS),
        ("articles in de", "/ui/articles?language=de", PAGE_TARGET_MS),
        ("articles, one week", "/ui/articles?from=2024-02-01&until=2024-02-07", PAGE_TARGET_MS),
        ("articles with versions", "/ui/articles?versions=true", PAGE_TARGET_MS),
        ("articles with copies", "/ui/articles?copies=true", PAGE_TARGET_MS),
        ("one article (2 versions)", f"/ui/articles/{changed}", PAGE_TARGET_MS),
        ("search page, frequent word", f"/ui/articles?q={words[0]}", SEARCH_TARGET_MS),
        ("search page, middling word", f"/ui/articles?q={words[200]}", SEARCH_TARGET_MS),
        ("search page, rare word", f"/ui/articles?q={words[4000]}", SEARCH_TARGET_MS),
        ("search page, two words", f"/ui/articles?q={words[3]}+{words[150]}", SEARCH_TARGET_MS),
        ("/v1/search, frequent word", f"/v1/search?q={words[0]}&limit=20", SEARCH_TARGET_MS),
        ("/v1/search, middling word", f"/v1/search?q={words[200]}&limit=20", SEARCH_TARGET_MS),
        ("/v1/search, rare word", f"/v1/search?q={words[4000]}&limit=20", SEARCH_TARGET_MS),
        ("/v1/search, two words", f"/v1/search?q={words[3]}+{words[150]}&limit=20", SEARCH_TARGET_MS),
    ]


def time_pages(base_url: str, words: list[str], count: int, runs: int) -> list[dict[str, Any]]:
    measured = []
    with httpx.Client(base_url=base_url, timeout=60, follow_redirects=True) as client:
        assert client.post("/ui/login", data={"token": TOKEN}).url.path == "/ui/sources"
        for label, path, target in pages_to_time(words, count):
            first = client.get(path)  # warm-up
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
            measured.append(
                {
                    "page": label,
                    "path": path,
                    "median_ms": round(statistics.median(times), 1),
                    "max_ms": round(max(times), 1),
                    "target_ms": target,
                    "bytes": len(first.content),
                }
            )
    return measured


def bench_backend(name: str, database_url: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    store = Store.open(database_url)
    try:
        filled = fill(store, args.articles)
        if store.engine.dialect.name == "postgresql":
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        print(f"{name}: {args.articles} articles stored in {filled['seconds']:.0f} s")
        with api_server(
            database_url, NEWSDEDUP_API_TOKEN=TOKEN, NEWSDEDUP_CONFIG=str(write_sources(folder))
        ) as base_url:
            pages = time_pages(base_url, filled["words"], args.articles, args.runs)
    finally:
        store.close()
    return {
        "backend": name,
        "articles": args.articles,
        "fill_seconds": round(filled["seconds"], 1),
        "pages": pages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results.append(bench_backend("sqlite", f"sqlite:///{folder / 'console.db'}", args, folder))
        if not args.no_postgres:
            with postgres_database(args.postgres) as url:
                if url is not None:
                    results.append(bench_backend("postgresql", url, args, folder))
    for result in results:
        print(f"\n{result['backend']}, {result['articles']} articles (ms per request)")
        print_table(
            ["page", "median", "slowest", "target", "KB"],
            [
                [p["page"], p["median_ms"], p["max_ms"], p["target_ms"], round(p["bytes"] / 1024, 1)]
                for p in result["pages"]
            ],
        )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    path = write_results(
        "console",
        {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": commit,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared with other work while measured",
            "results": results,
        },
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
