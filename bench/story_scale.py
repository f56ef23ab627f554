"""Story assignment at scale: p99 assignment time and storage per article (``bench.index_scale
--stories`` runs it).

Synthetic articles (no data needed), one every ``DAY / per_day`` seconds of a fake clock: each
reports one of a stream of events (about 20 articles each, spread over two days), with 30
words of the event's own 80, 80 words drawn from a Zipf-distributed general vocabulary of
50,000, and 6 names of the event's 10. Each is assigned through ``store.stories.assign_story``
on a SQLite store of its own (the statistics, the index of recent stories and the centroids in
their tables), one transaction per article, as a page's write does.

Measured per size: assignment time p50 / p99 (wall time of the transaction: the machine may
be shared), process CPU time per article, rows of ``story_frequency_log`` / ``story_keys`` /
``stories`` and the store file's bytes per article, and how many of the stories are in the
index of recent stories at the end (bounded by the window, whatever the size), and the
process's peak resident memory (the document-frequency sketch is 8 MiB whatever the size).
"""

from __future__ import annotations

import math
import os
import random
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from newsdedup.dedup.stories import ArticleTerms, StoryParams
from newsdedup.store import Store
from newsdedup.store.models import Story, StoryFrequencyLog, StoryKey
from newsdedup.store.stories import StoryInput, assign_story

START = datetime(2026, 1, 1, tzinfo=UTC)
VOCABULARY = 50_000
EVENT_ARTICLES = 20


@dataclass(frozen=True)
class StoryScale:
    size: int
    p50_ms: float
    p99_ms: float
    cpu_ms_per_article: float
    stories: int
    indexed_stories: int
    term_rows: int
    key_rows: int
    bytes_per_article: float
    peak_rss_mib: float  # the benchmark process's peak resident memory so far (sizes run in turn)


def synthetic_articles(size: int, per_day: int, seed: int = 7):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(VOCABULARY)]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    live: list[tuple[int, datetime]] = []
    next_event = 0
    for i in range(size):
        at = START + timedelta(seconds=i * 86400 / per_day)
        live = [(event, began) for event, began in live if at - began < timedelta(days=2)]
        if not live or rng.random() < 1 / EVENT_ARTICLES:
            live.append((next_event, at))
            next_event += 1
        event = rng.choice(live)[0]
        words: dict[str, int] = {}
        for _ in range(30):
            word = f"e{event}w{rng.randrange(80)}"
            words[word] = words.get(word, 0) + 1
        for word in rng.choices(range(VOCABULARY), cum_weights=cumulative, k=80):
            words[f"g{word}"] = words.get(f"g{word}", 0) + 1
        names = {f"e{event}n{rng.randrange(10)}": 1 for _ in range(6)}
        title = {f"e{event}w{rng.randrange(80)}": 1 for _ in range(5)}
        yield f"{i:032x}", ArticleTerms(words, names, title, at, "en")


def run_stories(size: int, per_day: int, workdir: Path) -> StoryScale:
    path = workdir / f"stories-{size}.db"
    store = Store.open(f"sqlite:///{path}")
    params = StoryParams()
    times: list[float] = []
    cpu_started = time.process_time()
    try:
        for article_id, terms in synthetic_articles(size, per_day):
            started = time.perf_counter()
            with store.db.writer.begin() as connection:
                assign_story(connection, article_id, article_id, StoryInput(terms, params), terms.at)
            times.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu_started
        with store.db.reading() as session:
            stories = session.scalar(select(func.count()).select_from(Story)) or 0
            indexed = session.scalar(select(func.count(func.distinct(StoryKey.story_id)))) or 0
            terms_rows = session.scalar(select(func.count()).select_from(StoryFrequencyLog)) or 0
            keys = session.scalar(select(func.count()).select_from(StoryKey)) or 0
    finally:
        store.close()
    times.sort()
    return StoryScale(
        size,
        times[len(times) // 2] * 1000,
        times[min(len(times) - 1, math.ceil(len(times) * 0.99) - 1)] * 1000,
        cpu / size * 1000,
        stories,
        indexed,
        terms_rows,
        keys,
        os.path.getsize(path) / size,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
    )


def run_all(sizes: list[int], per_day: int = 2000) -> list[StoryScale]:
    with tempfile.TemporaryDirectory(prefix="story-scale-") as folder:
        return [run_stories(size, per_day, Path(folder)) for size in sizes]
