"""Story quality: the labelled multi-outlet events of ``story-events`` through the real pipeline.

Each article of ``story-events/g5w-train.jsonl`` becomes an HTML page (its headline, its
paragraphs, its publication time as ``article:published_time``) in a WARC file, in order of
publication; ``newsdedup import-warc`` stores them (extraction, dedup, stories: the product as
it runs), each page under its publisher (the URL's host, as a user's import stores it;
``--one-source`` puts all under one source, as this benchmark did until 2026-12-07: dedup's
same-source rules then join some pages of other outlets as versions); the stories are read
back from the store, each page through the article its URL belongs to. Printed:

- pairwise precision, recall and F1 as Miranda et al. (2018) evaluate them (their scripts count
  pairs of documents in one gold event and one predicted story, from the contingency table),
- B-cubed precision, recall and F1 (per document, averaged),
- events wrongly merged (predicted stories holding documents of more than one event), and
  dedup's false merges (one article holding pages of different events),
- the same for a plain single-pass TF-IDF clusterer (word unigrams, cosine to the centroid,
  no names, no time) on the same extracted texts, its threshold chosen the same way.

Not tuned on the whole set: the events are split in two by a hash of their label. Settings are
chosen on split A (the best pairwise F1 with precision ≥ 0.95, in memory with
``dedup.stories.MemoryStories``, the store's algorithm) and reported on split B, which they
never saw, imported through the pipeline on its own; the settings chosen on all 40 events are
reported on all of them. CPU: the import's CPU time (user + system of the child,
``resource.getrusage``) with stories on and off, per page: the machine is shared, so wall time
says little. The imports measured run with ``NEWSDEDUP_EXTRACT_PROCESSES=1``: extraction then
runs in the command's own process, so its CPU time is the whole cost of a page, end to end
(the extraction pool's processes start from a forkserver, whose children ``getrusage`` does not
see; the pool changes where extraction runs, not what a story costs). Measured on the labelled set, and on the real pages of ``news-pages-fundus`` and
``dates-mediacloud`` (their own HTML, many languages: extraction as it costs in production),
each also without the command's start-up (an import of one page, subtracted): ``--cpu-runs``
runs alternating off and on, the best of each and the median of the runs' own ratios; and,
inside each run with stories on, the CPU time of the story stages themselves over the rest of
that run (``bench.story_cpu``), which the machine's drift from run to run does not blur.

    python -m bench.stories [--data DIR] [--keep DIR] [--cpu-runs N] [--one-source]
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import REPO, data_argument_parser, print_table, require_dataset, write_results
from newsdedup.dedup.normalize import normalize_paragraph
from newsdedup.dedup.stories import ArticleTerms, MemoryStories, StoryParams, article_terms
from newsdedup.extract.urls import normalize_url

THRESHOLDS = (0.12, 0.15, 0.18, 0.20, 0.22, 0.25, 0.30, 0.35)
WINDOWS = (7.0, 14.0, 30.0)
BASELINE_THRESHOLDS = (0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.50)
MIN_PRECISION = 0.95


@dataclass(frozen=True)
class Doc:
    id: str
    url: str
    event: str
    published: str
    title: str
    paragraphs: list[str]


def split_of(event: str) -> str:
    return "A" if hashlib.sha256(event.encode()).digest()[0] % 2 == 0 else "B"


# --- scores ---


def _pairs(labels: Sequence[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in Counter(labels).values())


def pairwise(gold: Sequence[str], predicted: Sequence[str]) -> tuple[float, float, float]:
    """Pairs of documents together in both / together in the prediction / together in gold."""
    together = _pairs(list(zip(gold, predicted, strict=True)))
    predicted_pairs, gold_pairs = _pairs(predicted), _pairs(gold)
    p = together / predicted_pairs if predicted_pairs else 0.0
    r = together / gold_pairs if gold_pairs else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def bcubed(gold: Sequence[str], predicted: Sequence[str]) -> tuple[float, float, float]:
    both = Counter(zip(gold, predicted, strict=True))
    gold_sizes, predicted_sizes = Counter(gold), Counter(predicted)
    p = sum(both[(g, s)] / predicted_sizes[s] for g, s in zip(gold, predicted, strict=True)) / len(gold)
    r = sum(both[(g, s)] / gold_sizes[g] for g, s in zip(gold, predicted, strict=True)) / len(gold)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def wrong_merges(gold: Sequence[str], predicted: Sequence[str]) -> int:
    """Predicted groups holding documents of more than one event (one per extra event)."""
    events: dict[str, set[str]] = defaultdict(set)
    for g, s in zip(gold, predicted, strict=True):
        events[s].add(g)
    return sum(len(found) - 1 for found in events.values())


def scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    p, r, f = pairwise(gold, predicted)
    bp, br, bf = bcubed(gold, predicted)
    return {
        "pairwise_p": p,
        "pairwise_r": r,
        "pairwise_f1": f,
        "bcubed_p": bp,
        "bcubed_r": br,
        "bcubed_f1": bf,
        "wrong_merges": wrong_merges(gold, predicted),
        "stories": len(set(predicted)),
    }


# --- the pipeline run ---


def page_html(doc: Doc) -> bytes:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in doc.paragraphs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(doc.title)}</title>"
        f"<meta property='og:title' content='{html.escape(doc.title, quote=True)}'>"
        f"<meta property='article:published_time' content='{doc.published}'>"
        f"<link rel='canonical' href='{html.escape(doc.url, quote=True)}'>"
        f"</head><body><article><h1>{html.escape(doc.title)}</h1>{body}</article></body></html>"
    ).encode()


def write_warc(docs: Sequence[Doc], path: Path) -> None:
    from warcio.statusandheaders import StatusAndHeaders  # deferred: only this benchmark writes WARCs
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as output:
        writer = WARCWriter(output, gzip=True)
        for doc in docs:
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                doc.url,
                "response",
                payload=io.BytesIO(page_html(doc)),
                http_headers=headers,
                warc_headers_dict={"WARC-Date": doc.published.replace("+00:00", "Z")},
            )
            writer.write_record(record)


@dataclass
class Imported:
    story_of_url: dict[str, str | None]
    article_of_url: dict[str, str]
    texts: list[tuple[str, str, str, datetime, str | None]]  # article id, title, text, time, language
    cpu_seconds: float
    wall_seconds: float
    summary: str
    _terms: list[tuple[str, ArticleTerms]] | None = None

    def article(self, url: str) -> str | None:
        """The article a page of the set is in: the store keeps URLs normalized (tracking
        parameters and AMP suffixes dropped, extract/urls.py), so look both up."""
        return self.article_of_url.get(url) or self.article_of_url.get(normalize_url(url))

    def terms(self) -> list[tuple[str, ArticleTerms]]:
        """The stored articles' story terms, in the order they were stored (computed once)."""
        if self._terms is None:
            self._terms = [
                (article_id, article_terms(title, text, at, language))
                for article_id, title, text, at, language in self.texts
            ]
        return self._terms


@dataclass(frozen=True)
class Run:
    stdout: str
    cpu_seconds: float  # the child's user + system time (``getrusage``)
    wall_seconds: float


def import_warc(
    warc: Path,
    workdir: Path,
    database: Path,
    source: str | None,
    env: dict[str, str],
    story_cpu: Path | None = None,
) -> Run:
    """``newsdedup import-warc`` of ``warc`` into the SQLite store ``database``, extracting in
    the command's own process so that its CPU time is every page's whole cost (see the
    docstring); stops the benchmark when it fails. ``source``: every page under this source
    (``--source``); None: each page under its publisher, as a user's import. ``story_cpu``:
    run through ``bench.story_cpu``, which writes there the CPU time of the story stages."""
    child_env = {
        **os.environ,
        "NEWSDEDUP_DATABASE_URL": f"sqlite:///{database}",
        "NEWSDEDUP_EXTRACT_PROCESSES": "1",
        **env,
    }
    command = ["import-warc", str(warc), *(["--source", source] if source else [])]
    if story_cpu is None:
        command = [sys.executable, "-m", "newsdedup", *command]
    else:
        command = [sys.executable, "-m", "bench.story_cpu", str(story_cpu), *command]
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command,
        env=child_env,
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"import-warc failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(done.stdout, cpu, wall)


def run_import(
    docs: Sequence[Doc], workdir: Path, name: str, env: dict[str, str], source: str | None
) -> Imported:
    """``source``: as ``import_warc``'s."""
    from newsdedup.store import Store  # deferred: the store is opened after the child wrote it

    warc = workdir / f"{name}.warc.gz"
    write_warc(docs, warc)
    database = workdir / f"{name}.db"
    archive = {"NEWSDEDUP_ARCHIVE_DIR": str(workdir / f"{name}-archive")}
    done = import_warc(warc, workdir, database, source, {**archive, **env})
    store = Store.open(f"sqlite:///{database}")
    try:
        from sqlalchemy import select

        from newsdedup.store.models import Article, Url, Version

        with store.db.reading() as session:
            rows = session.execute(
                select(Url.url, Article.id, Article.story_id).join(Article, Article.id == Url.article_id)
            ).all()
            # Each article's first text: the one its story was assigned from (a later version
            # keeps the story).
            articles = session.execute(
                select(
                    Article.id,
                    Version.title,
                    Version.text,
                    Version.published_at,
                    Version.fetched_at.label("created_at"),
                    Version.language,
                )
                .join(Version, (Version.article_id == Article.id) & (Version.version == 1))
                .order_by(Article.created_at, Article.id)
            ).all()
    finally:
        store.close()
    return Imported(
        {row.url: row.story_id for row in rows},
        {row.url: row.id for row in rows},
        [(a.id, a.title, a.text, a.published_at or a.created_at, a.language) for a in articles],
        done.cpu_seconds,
        done.wall_seconds,
        done.stdout.strip().splitlines()[0] if done.stdout.strip() else "",
    )


# --- in memory: the same algorithm, for choosing settings; and the baseline ---


def memory_stories(imported: Imported, params: StoryParams, keep: set[str] | None = None) -> dict[str, str]:
    """Article id → story, by dedup.stories.MemoryStories over the stored articles in the order
    they were stored (``keep``: only these articles)."""
    stories = MemoryStories(params)
    story_of: dict[str, str] = {}
    for article_id, terms in imported.terms():
        if keep is not None and article_id not in keep:
            continue
        done = stories.add(article_id, terms)
        story_of[article_id] = done.story.story_id
        for merged in done.merged:
            for other, story in story_of.items():
                if story == merged.story_id:
                    story_of[other] = done.story.story_id
    return story_of


def baseline_stories(imported: Imported, threshold: float, keep: set[str] | None = None) -> dict[str, str]:
    """Plain single-pass TF-IDF: word unigrams, incremental document frequencies, cosine to each
    cluster's centroid (summed TF), join the best at ``threshold`` or above. No names, no time."""
    import math

    df: Counter[str] = Counter()
    documents = 0
    centroids: dict[str, Counter[str]] = {}
    story_of: dict[str, str] = {}
    for article_id, title, text, _at, _language in imported.texts:
        if keep is not None and article_id not in keep:
            continue
        words = Counter(
            w for line in f"{title}\n{text}".splitlines() for w in normalize_paragraph(line).split()
        )
        documents += 1
        df.update(words.keys())

        def vector(counts: Counter[str], documents: int = documents) -> dict[str, float]:
            return {t: c * (math.log((documents + 1) / (df[t] + 1)) + 1) for t, c in counts.items()}

        mine = vector(words)
        norm = math.sqrt(sum(v * v for v in mine.values())) or 1.0
        best, best_score = None, 0.0
        for story_id, centroid in centroids.items():
            theirs = vector(centroid)
            dot = sum(v * theirs.get(t, 0.0) for t, v in mine.items())
            score = dot / (norm * (math.sqrt(sum(v * v for v in theirs.values())) or 1.0))
            if score > best_score:
                best, best_score = story_id, score
        if best is None or best_score < threshold:
            best = article_id
            centroids[best] = Counter()
        centroids[best].update(words)
        story_of[article_id] = best
    return story_of


_WORDS: dict[str, Counter[str]] = {}


def _baseline_words(article_id: str, title: str, text: str) -> Counter[str]:
    if article_id not in _WORDS:
        lines = f"{title}\n{text}".splitlines()
        _WORDS[article_id] = Counter(w for line in lines for w in normalize_paragraph(line).split())
    return _WORDS[article_id]


def evaluate(
    docs: Sequence[Doc], imported: Imported, story_of_article: Callable[[str], str | None]
) -> dict[str, float]:
    gold, predicted = [], []
    for doc in docs:
        article = imported.article(doc.url)
        gold.append(doc.event)
        # A page the pipeline rejected is a story of its own (it is in no story at all).
        story = story_of_article(article) if article else None
        predicted.append(story or f"missing:{doc.id}")
    return scores(gold, predicted)


def window_ceiling(docs: Sequence[Doc], imported: Imported, days: float) -> dict[str, str]:
    """Article → the labelled event's articles that a chain of publications at most ``days``
    apart links to it: what a perfect clusterer that keeps to the time window would make (the
    best any setting with that window can score; the labels join some events across years)."""
    parent = {d.id: d.id for d in docs}

    def root(doc_id: str) -> str:
        while parent[doc_id] != doc_id:
            doc_id = parent[doc_id]
        return doc_id

    for a in docs:
        for b in docs:
            apart = abs(
                (datetime.fromisoformat(a.published) - datetime.fromisoformat(b.published)).total_seconds()
            )
            if a.event == b.event and apart <= days * 86400:
                parent[root(a.id)] = root(b.id)
    story_of: dict[str, str] = {}
    for doc in docs:
        article = imported.article(doc.url)
        if article is not None:
            story_of.setdefault(article, root(doc.id))
    return story_of


def dedup_false_merges(docs: Sequence[Doc], imported: Imported) -> int:
    events: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        article = imported.article(doc.url)
        if article is not None:
            events[article].add(doc.event)
    return sum(len(found) - 1 for found in events.values())


def choose(
    docs: Sequence[Doc], imported: Imported, candidates: Sequence[Any], run: Callable[[Any], dict[str, str]]
) -> tuple[Any, dict[str, float]]:
    """The candidate with the best pairwise F1 among those with precision ≥ MIN_PRECISION (the
    best precision when none has it): a wrong merge costs a user more than a split."""
    results = []
    for candidate in candidates:
        story_of = run(candidate)
        results.append((candidate, evaluate(docs, imported, story_of.get)))
    good = [item for item in results if item[1]["pairwise_p"] >= MIN_PRECISION]
    if good:
        return max(good, key=lambda item: (item[1]["pairwise_f1"], item[1]["pairwise_p"]))
    return max(results, key=lambda item: (item[1]["pairwise_p"], item[1]["pairwise_f1"]))


def load(folder: Path) -> list[Doc]:
    rows = [
        json.loads(line)
        for line in (folder / "g5w-train.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]
    docs = [Doc(r["id"], r["url"], r["story"], r["published"], r["title"], r["paragraphs"]) for r in rows]
    return sorted(docs, key=lambda d: (d.published, d.id))  # arrival order: publication order


def import_cpu(warc: Path, workdir: Path, stories: bool, run: int) -> tuple[float, float, float]:
    """CPU seconds of one ``newsdedup import-warc`` of ``warc`` into a new store, of its story
    stages, and of the word lists' loading among them (0 with stories off)."""
    database = workdir / f"cpu-{warc.stem}-{stories}-{run}.db"
    env = {"NEWSDEDUP_ARCHIVE": "0", "NEWSDEDUP_STORIES": "1" if stories else "0"}
    stages = workdir / f"cpu-{warc.stem}-{run}-stages.json"
    seconds = import_warc(warc, workdir, database, "cpu", env, stages if stories else None).cpu_seconds
    database.unlink(missing_ok=True)
    if not stories:
        return seconds, 0.0, 0.0
    found = json.loads(stages.read_text())
    return seconds, found["story_seconds"], found["word_list_seconds"]


def real_pages_cpu(data: Path, workdir: Path, runs: int) -> dict[str, Any] | None:
    """CPU per page of importing the real pages with stories on and off, with and without the
    command's start-up (the import of one page, subtracted). The runs alternate off and on, so
    that the machine's drift (this one's CPU time for the same import varies by ±10 % from one
    minute to the next, evenly over the pages) weighs on both alike: the median of the runs' own
    ratios is reported beside the ratio of the best runs. Within each run with stories on, the
    CPU time of the story stages themselves (``bench.story_cpu``) against the rest of the run:
    a ratio the drift divides out of."""
    from bench.archive import build_warc, real_bodies  # deferred: only this measure reads them

    if runs < 1 or not (data / "news-pages-fundus").is_dir():
        return None
    bodies = real_bodies(data)
    pages = workdir / "real-pages.warc.gz"
    one = workdir / "one-page.warc.gz"
    build_warc(pages, bodies, 1)
    build_warc(one, bodies[:1], 1)
    measured: dict[str, list[float]] = {
        key: [] for key in ("off", "on", "startup_off", "startup_on", "story_stages", "word_lists")
    }
    for run in range(runs):
        for stories in (False, True):
            label = "on" if stories else "off"
            seconds, story_seconds, word_list_seconds = import_cpu(pages, workdir, stories, run)
            measured[label].append(seconds)
            if stories:
                measured["story_stages"].append(story_seconds)
                measured["word_lists"].append(word_list_seconds)
            measured[f"startup_{label}"].append(import_cpu(one, workdir, stories, run)[0])
    ratios = [
        (on - start_on) / (off - start_off)
        for on, off, start_on, start_off in zip(
            measured["on"], measured["off"], measured["startup_on"], measured["startup_off"], strict=True
        )
    ]
    # The story stages' CPU over the rest of the same run, start-up excluded.
    in_run = [
        stages / (on - start_on - stages)
        for on, start_on, stages in zip(
            measured["on"], measured["startup_on"], measured["story_stages"], strict=True
        )
    ]
    found: dict[str, Any] = {
        "pages": len(bodies),
        "runs": measured,
        "ratios_without_startup": ratios,
        "story_stages_share_in_run": in_run,
    }
    for label in ("off", "on"):
        found[f"cpu_{label}"] = min(measured[label])
        found[f"startup_{label}"] = min(measured[f"startup_{label}"])
    found["median_ratio_without_startup"] = statistics.median(ratios)
    found["median_story_stages_share"] = statistics.median(in_run)
    found["median_word_lists_share"] = statistics.median(
        lists / (on - start_on - stages)
        for on, start_on, stages, lists in zip(
            measured["on"],
            measured["startup_on"],
            measured["story_stages"],
            measured["word_lists"],
            strict=True,
        )
    )
    return found


def settings_env(params: StoryParams) -> dict[str, str]:
    return {
        "NEWSDEDUP_STORY_THRESHOLD": repr(params.threshold),
        "NEWSDEDUP_STORY_MERGE_THRESHOLD": repr(params.merge_threshold),
        "NEWSDEDUP_STORY_WINDOW_DAYS": repr(params.window_days),
    }


def grid() -> list[StoryParams]:
    return [
        StoryParams(threshold=t, merge_threshold=t + 0.10, window_days=w, time_scale_days=w)
        for w in WINDOWS
        for t in THRESHOLDS
    ]


def main(argv: list[str] | None = None) -> int:
    parser = data_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="keep the WARC files and stores here")
    parser.add_argument(
        "--cpu-runs",
        type=int,
        default=3,
        help="alternating runs with stories off and on (the best of each, and the median of their ratios)",
    )
    parser.add_argument(
        "--one-source",
        action="store_true",
        help="import every page under one source (import-warc --source), as before 2026-12-07; "
        "by default each page is its publisher's, as a user's import-warc stores it",
    )
    args = parser.parse_args(argv)
    source = "story-events" if args.one_source else None
    folder = require_dataset(args.data, "story-events")
    if folder is None:
        return 0
    docs = load(folder)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-stories-"))
    workdir.mkdir(parents=True, exist_ok=True)
    split_a = [d for d in docs if split_of(d.event) == "A"]
    split_b = [d for d in docs if split_of(d.event) == "B"]
    print(
        f"{len(docs)} articles, {len({d.event for d in docs})} events; split A (tuning): "
        f"{len(split_a)} articles, {len({d.event for d in split_a})} events; split B (held out): "
        f"{len(split_b)} articles, {len({d.event for d in split_b})} events"
    )

    # 1. Extracted texts, through the pipeline once with stories off (also the CPU baseline).
    off = run_import(docs, workdir, "stories-off", {"NEWSDEDUP_STORIES": "0"}, source)
    articles_a = {a for a in (off.article(d.url) for d in split_a) if a is not None}
    articles_all = set(off.article_of_url.values())

    # 2. Settings chosen in memory, on split A and on the whole set (the store's algorithm).
    chosen_a, _ = choose(split_a, off, grid(), lambda p: memory_stories(off, p, articles_a))
    chosen_all, _ = choose(docs, off, grid(), lambda p: memory_stories(off, p, articles_all))
    base_a, _ = choose(split_a, off, BASELINE_THRESHOLDS, lambda t: baseline_stories(off, t, articles_a))
    base_all, _ = choose(docs, off, BASELINE_THRESHOLDS, lambda t: baseline_stories(off, t, articles_all))

    # The other fold too: settings chosen on B, reported on A.
    articles_b = {a for a in (off.article(d.url) for d in split_b) if a is not None}
    chosen_b, _ = choose(split_b, off, grid(), lambda p: memory_stories(off, p, articles_b))
    base_b, _ = choose(split_b, off, BASELINE_THRESHOLDS, lambda t: baseline_stories(off, t, articles_b))

    # 3. Through the pipeline: each split alone with the other's settings; everything with the
    # whole set's (the defaults of config/settings.py come from split A: see bench/README.md).
    held_out = run_import(split_b, workdir, "held-out", settings_env(chosen_a), source)
    held_out_a = run_import(split_a, workdir, "held-out-a", settings_env(chosen_b), source)
    whole = run_import(docs, workdir, "whole", settings_env(chosen_all), source)
    held_out_base = baseline_stories(held_out, base_a)
    held_out_a_base = baseline_stories(held_out_a, base_b)
    whole_base = baseline_stories(whole, base_all)
    memory_whole = memory_stories(whole, chosen_all)

    rows = []
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "settings": {}}
    for label, subset, imported, story_of, params in (
        ("stories, held-out split B (settings from A)", split_b, held_out, None, chosen_a),
        ("stories, held-out split A (settings from B)", split_a, held_out_a, None, chosen_b),
        ("stories, all 40 events (settings from all)", docs, whole, None, chosen_all),
        ("baseline TF-IDF, held-out split B (from A)", split_b, held_out, held_out_base.get, base_a),
        ("baseline TF-IDF, held-out split A (from B)", split_a, held_out_a, held_out_a_base.get, base_b),
        ("baseline TF-IDF, all 40 events (from all)", docs, whole, whole_base.get, base_all),
        (
            "ceiling in 30 days, split B (labels)",
            split_b,
            held_out,
            window_ceiling(split_b, held_out, 30).get,
            "-",
        ),
        (
            "ceiling in 30 days, split A (labels)",
            split_a,
            held_out_a,
            window_ceiling(split_a, held_out_a, 30).get,
            "-",
        ),
        ("ceiling in 30 days, all 40 events (labels)", docs, whole, window_ceiling(docs, whole, 30).get, "-"),
    ):
        if story_of is None:
            by_article = {imported.article_of_url[u]: s for u, s in imported.story_of_url.items()}
            story_of = by_article.get
        found = evaluate(subset, imported, story_of)
        found["dedup_false_merges"] = dedup_false_merges(subset, imported)
        rows.append(
            [
                label,
                found["pairwise_p"],
                found["pairwise_r"],
                found["pairwise_f1"],
                found["bcubed_p"],
                found["bcubed_r"],
                found["bcubed_f1"],
                found["wrong_merges"],
                found["dedup_false_merges"],
                found["stories"],
                str(params),
            ]
        )
        results[label] = found
    print()
    print_table(
        [
            "run",
            "pair P",
            "pair R",
            "pair F1",
            "B3 P",
            "B3 R",
            "B3 F1",
            "wrong merges",
            "dedup false merges",
            "stories",
        ],
        [row[:-1] for row in rows],
    )
    print()
    # Not used to choose anything: how precision and recall trade on the held-out split B
    # (in memory, on the texts the pipeline extracted), for the reader to see the slope.
    print("\nheld-out split B, window 30 days, by threshold (not used to choose):")
    curve = []
    for threshold in THRESHOLDS:
        params = StoryParams(
            threshold=threshold, merge_threshold=threshold + 0.10, window_days=30.0, time_scale_days=30.0
        )
        found = evaluate(split_b, off, memory_stories(off, params, articles_b).get)
        curve.append(
            [
                threshold,
                found["pairwise_p"],
                found["pairwise_r"],
                found["pairwise_f1"],
                found["bcubed_f1"],
                found["wrong_merges"],
            ]
        )
    print_table(["threshold", "pair P", "pair R", "pair F1", "B3 F1", "wrong merges"], curve)
    results["held_out_b_curve"] = curve
    print()
    for label, params in (
        ("chosen on split A", chosen_a),
        ("chosen on split B", chosen_b),
        ("chosen on all", chosen_all),
        ("baseline threshold on A", base_a),
        ("baseline threshold on all", base_all),
    ):
        print(f"{label}: {params}")
        results["settings"][label] = str(params)
    by_article_whole = {whole.article_of_url[u]: story for u, story in whole.story_of_url.items()}
    same = all(
        memory_whole.get(article) == by_article_whole.get(article)
        for article in (whole.article(d.url) for d in docs)
        if article is not None
    )
    print(f"store's stories equal the in-memory clusterer's on the same articles: {same}")
    per_page_on = whole.cpu_seconds / len(docs)
    per_page_off = off.cpu_seconds / len(docs)
    print(
        f"import CPU time, end to end (one process, user+system): stories on {whole.cpu_seconds:.2f} s "
        f"({per_page_on * 1000:.1f} ms/page), off {off.cpu_seconds:.2f} s ({per_page_off * 1000:.1f} ms/page), "
        f"+{(per_page_on / per_page_off - 1) * 100:.1f} % (includes start-up of the command)"
    )
    print(f"import summaries: off: {off.summary} | whole: {whole.summary} | held out: {held_out.summary}")
    real = real_pages_cpu(folder.parent, workdir, args.cpu_runs)
    if real is not None:
        pages = real["pages"]
        on, off_cpu = real["cpu_on"] / pages, real["cpu_off"] / pages
        bare_on = (real["cpu_on"] - real["startup_on"]) / pages
        bare_off = (real["cpu_off"] - real["startup_off"]) / pages
        print(
            f"real pages ({pages:.0f}, news-pages-fundus + dates-mediacloud), import CPU best of {args.cpu_runs}: "
            f"stories on {on * 1000:.1f} ms/page, off {off_cpu * 1000:.1f} ms/page, +{(on / off_cpu - 1) * 100:.1f} %; "
            f"without start-up ({real['startup_off']:.2f} s): on {bare_on * 1000:.1f}, off {bare_off * 1000:.1f} ms/page, "
            f"+{(bare_on / bare_off - 1) * 100:.1f} %; median of the {args.cpu_runs} alternating runs' own ratios "
            f"(without start-up): +{(real['median_ratio_without_startup'] - 1) * 100:.1f} % "
            f"({', '.join(f'{(r - 1) * 100:+.1f}' for r in real['ratios_without_startup'])}); "
            f"the story stages' own CPU over the rest of the same run, median: "
            f"+{real['median_story_stages_share'] * 100:.1f} % "
            f"({', '.join(f'{r * 100:+.1f}' for r in real['story_stages_share_in_run'])}), of which "
            f"loading the languages' word lists (once a process): {real['median_word_lists_share'] * 100:.1f} %"
        )
        results["real_pages_cpu"] = real
    results.update(
        same_as_memory=same,
        cpu_seconds_on=whole.cpu_seconds,
        cpu_seconds_off=off.cpu_seconds,
        pages=len(docs),
    )
    write_results("stories", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
