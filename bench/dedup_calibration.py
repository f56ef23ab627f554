"""Calibrate the dedup thresholds on real text: ``python -m bench.dedup_calibration [--quick]``.

Pairs (page, stored text) with a known answer, built from ``../shared/data``:

- revisions (same source, expect a link: ``version``, or ``duplicate`` for a near-identical
  revision at another URL): consecutive Wikipedia revisions (``wiki-revisions``), and a news
  article grown from its two-paragraph brief (Fundus gold bodies);
- syndicated copies (another source, expect ``duplicate``): a Fundus body with a byline added,
  the last paragraph dropped, a "first appeared" note appended, two paragraphs swapped, site
  boilerplate leaking in, or trimmed to its first half;
- updates at a new URL on the same source (expect ``version``, and only that: a duplicate
  would keep the old text): a Fundus body with a paragraph of another article added, and with
  one figure changed too ("UPDATE 1-");
- alternate URLs on the same source (expect ``duplicate``, and only that): a print page (the
  body with a few short lines of its own), an "old version" page (the first half);
- different documents (expect ``new``): different Wikipedia articles (alphabetical neighbours,
  e.g. "Demographics of India" / "...of Indonesia", share templates), different news articles
  of one country, two-paragraph briefs of different articles, articles sharing a quoted
  paragraph, short articles sharing the site's boilerplate, and two short briefs opening with
  the same real lead paragraph, then each telling something else (the first sentence, or the
  whole of, a paragraph of two other articles), on one source and on two;
- non-articles padded with boilerplate (expect ``rejected`` by the minimum of words that the
  pipeline counts without chrome and boilerplate lines, ``pipeline.page_pipeline.content_words``): a
  real headline, a "Loading the live dashboard..." line and newsletter prompts; each is judged
  against another such page of the same site.

Each page goes through the real path: the minimum of words → ``fingerprint`` →
``InMemoryIndex.query`` over all stored texts → ``decide`` with the stored text as candidate if
the index found it. Stage 1 sweeps
shingle_size × num_perm × lsh_threshold with a coarse threshold grid; stage 2 sweeps the
thresholds finely for the best stage-1 setting. The goal: no merge of different documents
with ≥ 98 % of revisions and copies linked to the right article.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import dedup_generalization as generalization
from bench.common import data_argument_parser, print_table, require_dataset, tokens, write_results
from newsdedup.config import Settings
from newsdedup.dedup import Candidate, DedupParams, InMemoryIndex, PageFacts, decide, fingerprint
from newsdedup.dedup.types import Fingerprint
from newsdedup.extract.text import word_count
from newsdedup.pipeline.page_pipeline import content_words

SEED = 20240501
RECALL_GOAL = 0.98
LINKED = ("duplicate", "version")
# Revisions keeping less than this share of either text (reference measure) are rewrites that
# no text comparison can link; different articles sharing more are content forks. Both are
# listed in the results but not scored.
REWRITE_BELOW = 0.2
FORK_FROM = 0.5
MIN_WORDS: int = Settings.model_fields["min_text_words"].default
# Expected outcomes that only one decision satisfies (the others accept any linked decision).
STRICT = {"update": ("version",), "alternate": ("duplicate",)}


@dataclass(frozen=True)
class Pair:
    family: str  # what kind of case, for the per-family table
    page: str
    stored: str
    same_source: bool
    # "version" (or a duplicate when near-identical), "update" (a version only), "duplicate",
    # "alternate" (a same-source duplicate only), "new", "rejected" (not an article) or "skip"
    expected: str


# --- building the pairs ---------------------------------------------------------------------


def wiki_pairs(folder: Path, titles_wanted: int, rng: random.Random) -> list[Pair]:
    titles = sorted(p.name for p in folder.iterdir() if p.is_dir())
    chosen = sorted(rng.sample(titles, min(titles_wanted, len(titles))))

    def revisions(title: str) -> list[str]:
        files = sorted((folder / title).glob("*.txt"), key=lambda p: int(p.stem))
        return [f.read_text(encoding="utf-8") for f in files]

    pairs: list[Pair] = []
    for title in chosen:
        texts = revisions(title)
        for older, newer in itertools.pairwise(texts):
            if " ".join(older.split()) == " ".join(newer.split()):
                continue
            if reference_containment(older, newer) < REWRITE_BELOW:
                # Blanked, vandalized or rewritten: nothing textual links the two; not scored.
                pairs.append(
                    Pair(
                        f"wiki rewrite (keeps < {REWRITE_BELOW:.0%}, not scored)", newer, older, True, "skip"
                    )
                )
            else:
                pairs.append(Pair("wiki revision", newer, older, True, "version"))
        # Neighbours in the alphabet often share a template ("Demographics of ...").
        neighbour = titles[(titles.index(title) + 1) % len(titles)]
        for family, other in (
            ("wiki different (neighbour)", revisions(neighbour)[-1]),
            ("wiki different (random)", revisions(rng.choice(titles))[0]),
        ):
            if other in texts:
                continue
            if reference_containment(texts[-1], other) >= FORK_FROM:
                # Two articles of which one holds most of the other (a content fork, e.g.
                # "Hopwood Award" / "Hopwood Program"): a copy, whatever the titles say.
                pairs.append(
                    Pair(
                        f"wiki content fork (≥ {FORK_FROM:.0%} shared, not scored)",
                        texts[-1],
                        other,
                        True,
                        "skip",
                    )
                )
            else:
                pairs.append(Pair(family, texts[-1], other, True, "new"))
    return pairs


def reference_containment(a: str, b: str, n: int = 5) -> float:
    """Independent yardstick (not dedup's code): the larger exact word 5-gram containment."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = tokens(text)
        return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}

    ga, gb = grams(a), grams(b)
    common = len(ga & gb)
    return max(common / len(ga), common / len(gb)) if ga and gb else 0.0


def fundus_articles(folder: Path) -> dict[str, list[list[str]]]:
    """country → articles, each a list of paragraphs (title first)."""
    by_country: dict[str, list[list[str]]] = {}
    for path in sorted(folder.glob("*/*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8")).values():
            body = entry.get("body") or {}
            paragraphs = [entry.get("title") or ""] + list(body.get("summary") or [])
            for section in body.get("sections") or []:
                paragraphs += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
            paragraphs = [p.strip() for p in paragraphs if p and p.strip()]
            if len(paragraphs) >= 4 and sum(len(p.split()) for p in paragraphs) >= 80:
                by_country.setdefault(path.parent.name, []).append(paragraphs)
    return by_country


BOILERPLATE = [
    "Follow us on Facebook and X for the latest news.",
    "Subscribe to our newsletter and get the day's headlines every morning.",
    "Advertisement",
    "The Valley Courier is an independent newsroom supported by its readers.",
    "Copyright 2024 Valley Courier Media. All rights reserved.",
]


def fundus_pairs(
    by_country: dict[str, list[list[str]]], articles_wanted: int, rng: random.Random
) -> list[Pair]:
    every = [(country, article) for country, articles in by_country.items() for article in articles]
    chosen = rng.sample(every, min(articles_wanted, len(every)))
    # The hard cases draw from a generator of their own: the other families keep their pairs.
    hard = random.Random(SEED + 1)
    join = "\n".join
    pairs: list[Pair] = []
    for country, paras in chosen:
        full = join(paras)
        brief = join(paras[:3])  # title + first two paragraphs
        swap = rng.randrange(1, len(paras) - 1)
        reordered = paras[:swap] + [paras[swap + 1], paras[swap]] + paras[swap + 2 :]
        copies = {
            "copy: byline added": join(["By Jane Doe, staff writer"] + paras),
            "copy: last paragraph dropped": join(paras[:-1]),
            "copy: note appended": full + "\nThis article first appeared on the original publisher's site "
            "and is republished with permission.",
            "copy: paragraphs swapped": join(reordered),
            "copy: boilerplate leaking": join(paras + BOILERPLATE),
        }
        if len(paras) >= 6:
            copies["copy: trimmed to first half"] = join(paras[: len(paras) // 2 + 1])
        for family, copy in copies.items():
            pairs.append(Pair(family, copy, full, False, "duplicate"))
        pairs.append(Pair("brief grown into full article", full, brief, True, "version"))

        others = [a for c, a in every if a is not paras and c == country] or [
            a for _, a in every if a is not paras
        ]
        other = rng.choice(others)
        pairs.append(Pair("news different (same country)", full, join(other), True, "new"))
        pairs.append(Pair("briefs of different articles", brief, join(other[:3]), True, "new"))
        pairs.append(Pair("brief vs other full article", brief, join(other), True, "new"))
        quote = max(other[1:], key=len)
        with_quote = paras[: len(paras) // 2] + [quote] + paras[len(paras) // 2 :]
        for same_source in (True, False):
            pairs.append(
                Pair("sharing a quoted paragraph", join(with_quote), join(other), same_source, "new")
            )
        pairs.append(
            Pair(
                "sharing site boilerplate",
                join(paras[:3] + BOILERPLATE[3:]),
                join(other[:3] + BOILERPLATE[3:]),
                True,
                "new",
            )
        )
        third = hard.choice(
            [a for a in others if a is not other] or [a for _, a in every if a not in (paras, other)]
        )
        pairs += hard_case_pairs(paras, other, third, hard)
    return pairs


# A site's short lines of its own on a print page: no new material.
PRINT_LINES = ["Print this article", "Back to the story", "Photo: staff photographer"]
# Newsletter prompts written for this benchmark, as they leak into the text of pages with no
# article (a live dashboard that renders in the browser).
PROMPTS = [
    [
        "Get the Valley Courier morning briefing: the day's top stories in your inbox before 7 a.m. every weekday.",
        "Sign up now",
    ],
    ["Sign up for the Valley Courier newsletter and never miss a story from your neighbourhood again."],
    ["Subscribe to our evening bulletin for the headlines, the weather and the traffic, free every weekday."],
    ["Never miss a story: get our weekend digest delivered to your inbox every Saturday. Subscribe"],
]
_DIGITS = re.compile(r"\d+")


def first_sentence(paragraph: str) -> str:
    """The paragraph's first sentence when it has at least 12 words, else the paragraph."""
    head, dot, _ = paragraph.partition(". ")
    return head + dot.strip() if dot and len(head.split()) >= 12 else paragraph


def hard_case_pairs(paras: list[str], other: list[str], third: list[str], rng: random.Random) -> list[Pair]:
    """Updates at a new URL, alternates, briefs sharing a lead, boilerplate-padded non-articles."""
    join = "\n".join
    full = join(paras)
    pairs: list[Pair] = []
    # Same-source growth at a new URL: a paragraph of news added ("UPDATE 1-"), and a figure
    # changed as well when the article has one.
    added = max(other[1:], key=len)
    at = rng.randrange(2, len(paras))
    grown = paras[:at] + [added] + paras[at:]
    pairs.append(Pair("update at a new URL: paragraph added", join(grown), full, True, "update"))
    with_figure = [i for i, p in enumerate(grown) if i and p != added and _DIGITS.search(p)]
    if with_figure:
        i = rng.choice(with_figure)
        changed = list(grown)
        changed[i] = _DIGITS.sub(lambda m: str(int(m.group()) + 1), changed[i], count=1)
        pairs.append(
            Pair("update at a new URL: paragraph added, figure changed", join(changed), full, True, "update")
        )
    # The same text, or less of it, at another URL of the same site.
    pairs.append(Pair("alternate: print page", join(paras + PRINT_LINES), full, True, "alternate"))
    if len(paras) >= 6:
        pairs.append(
            Pair(
                "alternate: old version (first half)",
                join(paras[: len(paras) // 2 + 1]),
                full,
                True,
                "alternate",
            )
        )
    # Two short briefs opening with the same lead (the article's first body paragraph), then
    # each telling something else.
    lead = paras[1]
    tails = [max(other[1:], key=len), max(third[1:], key=len)]
    for shape, (mine, theirs) in (
        ("short tails", [first_sentence(t) for t in tails]),
        ("one-paragraph tails", tails),
    ):
        for same_source in (True, False):
            where = "one source" if same_source else "two sources"
            pairs.append(
                Pair(
                    f"briefs sharing a lead, {shape} ({where})",
                    join([lead, mine]),
                    join([lead, theirs]),
                    same_source,
                    "new",
                )
            )
    # Pages with no article: a real headline, a loading line and the site's newsletter prompt.
    prompt = PROMPTS[rng.randrange(len(PROMPTS))]
    # Their own text: a real headline cut to its first ten words (the dashboard's heading) and
    # the loading line, fewer words than an article's minimum; the rest is boilerplate.
    padded = [
        [" ".join(headline.split()[:10]), "Loading the live dashboard..."] + prompt + [BOILERPLATE[4]]
        for headline in (paras[0], other[0])
    ]
    pairs.append(Pair("boilerplate-padded non-article", join(padded[0]), join(padded[1]), True, "rejected"))
    return pairs


# --- measuring ------------------------------------------------------------------------------


def fingerprints(texts: list[str], params: DedupParams) -> dict[str, Fingerprint]:
    return {text: fingerprint(text, params) for text in dict.fromkeys(texts)}


def retrieved(pairs: list[Pair], fps: dict[str, Fingerprint], params: DedupParams) -> list[bool]:
    """Whether the index (holding every stored text) finds each pair's stored text."""
    index = InMemoryIndex(params)
    keys = {text: f"s{i}" for i, text in enumerate(dict.fromkeys(p.stored for p in pairs))}
    for text, key in keys.items():
        index.add(key, fps[text])
    return [keys[p.stored] in index.query(fps[p.page]) for p in pairs]


def decisions(
    pairs: list[Pair], fps: dict[str, Fingerprint], found: list[bool], params: DedupParams
) -> list[str]:
    kinds = []
    for pair, hit in zip(pairs, found):
        if rejected(pair.page):
            kinds.append("rejected")
            continue
        candidate = Candidate(
            article_id="stored",
            version=1,
            source="origin" if pair.same_source else "elsewhere",
            url="https://origin.example/a",
            fingerprint=fps[pair.stored],
            is_latest=True,
        )
        page = PageFacts(
            url="https://page.example/b", canonical_url="https://page.example/b", source="origin"
        )
        kinds.append(decide(page, fps[pair.page], [candidate] if hit else [], params).kind)
    return kinds


@functools.cache
def rejected(text: str) -> bool:
    """Whether the pipeline refuses the text as no article (too few words of its own)."""
    return content_words(text) < MIN_WORDS


def linked_right(pair: Pair, kind: str) -> bool:
    return kind in STRICT.get(pair.expected, LINKED)


def right(pair: Pair, kind: str) -> bool:
    if pair.expected in ("new", "rejected"):
        return kind == pair.expected
    if pair.expected == "duplicate":
        return kind == "duplicate"
    return linked_right(pair, kind)


def score(pairs: list[Pair], kinds: list[str]) -> dict[str, Any]:
    scored = [(p, k) for p, k in zip(pairs, kinds) if p.expected != "skip"]
    pairs, kinds = [p for p, _ in scored], [k for _, k in scored]
    positives = [(p, k) for p, k in zip(pairs, kinds) if p.expected not in ("new", "rejected")]
    negatives = [k for p, k in zip(pairs, kinds) if p.expected in ("new", "rejected")]
    non_articles = [k for p, k in zip(pairs, kinds) if p.expected == "rejected"]
    result: dict[str, Any] = {
        "linked_recall": sum(linked_right(p, k) for p, k in positives) / len(positives),
        "merges": sum(k in LINKED for k in negatives),
        "negatives": len(negatives),
        "positives": len(positives),
        "non_articles": len(non_articles),
        "non_articles_stored": sum(k != "rejected" for k in non_articles),
        "articles_rejected": sum(k == "rejected" for p, k in zip(pairs, kinds) if p.expected != "rejected"),
    }
    # Right answers: a copy is a duplicate; a revision a version, or a duplicate (alternate URL)
    # when it is near-identical; an update at a new URL a version; an alternate URL a duplicate;
    # a different document is new.
    groups = {"duplicate": ("duplicate", "alternate"), "version": ("version", "update"), "new": ("new",)}
    for kind, group in groups.items():
        decided = [p for p, k in zip(pairs, kinds) if k == kind]
        expected = [(p, k) for p, k in zip(pairs, kinds) if p.expected in group]
        result[kind] = {
            "precision": (sum(right(p, kind) for p in decided) / len(decided)) if decided else None,
            "recall": (sum(right(p, k) for p, k in expected) / len(expected)) if expected else None,
            "decided": len(decided),
            "expected": len(expected),
        }
    return result


def meets_goal(s: dict[str, Any]) -> bool:
    return s["merges"] == 0 and s["non_articles_stored"] == 0 and s["linked_recall"] >= RECALL_GOAL


def rank(s: dict[str, Any], params: DedupParams) -> tuple[float, ...]:
    # Goal first, then recall, then right kinds, then the settings farthest from the edges.
    kinds = (s["duplicate"]["recall"] or 0) + (s["version"]["recall"] or 0)
    return (
        meets_goal(s),
        -s["merges"],
        round(s["linked_recall"], 3),
        round(kinds, 3),
        params.num_perm == 128,
    )


def threshold_grid(fine: bool) -> list[dict[str, float]]:
    if fine:
        axes = {
            "duplicate_jaccard": (0.8, 0.85, 0.9),
            "duplicate_containment": (0.85, 0.9, 0.95),
            "version_jaccard": (0.1, 0.15, 0.2, 0.3),
            "version_containment": (0.3, 0.4, 0.5, 0.6),
        }
    else:
        axes = {
            "duplicate_jaccard": (0.85,),
            "duplicate_containment": (0.9,),
            "version_jaccard": (0.15, 0.3),
            "version_containment": (0.3, 0.5),
        }
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def before_and_after(
    data: Path, pairs: list[Pair], articles: dict[str, list[list[str]]], quick: bool
) -> dict[str, Any]:
    """The whole set (these pairs and the generalization pairs), before and after, one run."""
    every = [a for country in sorted(articles) for a in articles[country]]
    extra, learned = generalization.build(data, every, reference_containment, SEED, quick)
    whole = generalization.as_gpairs(pairs) + extra
    print(
        f"\nbefore and after, {len(whole)} pairs ({len(extra)} of them generalization pairs; "
        f"{len(learned)} sites with a real pitch): before = the rules of 0.1 (a WARC collection "
        "under one source); after, cold = a new source's first pages judged at once, nothing learned; "
        "after, held = a new source's short pages wait for its first pages (the default); "
        "after, warm = once the source has learned its boilerplate"
    )
    return generalization.report(
        whole, learned, MIN_WORDS, ("before", "after, cold", "after, held", "after, warm")
    )


def main(argv: list[str] | None = None) -> int:
    parser = data_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer documents and settings (about 30 s)")
    parser.add_argument(
        "--generalization",
        action="store_true",
        help="only the before/after figures on the whole set (bench/dedup_generalization.py), no sweep",
    )
    args = parser.parse_args(argv)
    wiki = require_dataset(args.data, "wiki-revisions")
    news = require_dataset(args.data, "news-pages-fundus")
    if wiki is None or news is None:
        return 0
    started = time.perf_counter()
    rng = random.Random(SEED)
    pairs = wiki_pairs(wiki / "version_documents", 40 if args.quick else 80, rng)
    articles = fundus_articles(news)
    pairs += fundus_pairs(articles, 40 if args.quick else 80, rng)
    generalization = before_and_after(args.data, pairs, articles, args.quick)
    if args.generalization:
        write_results("dedup_generalization", {"quick": args.quick, "seed": SEED, **generalization})
        return 0
    texts = [p.page for p in pairs] + [p.stored for p in pairs]
    print(
        f"{len(pairs)} pairs, {time.perf_counter() - started:.0f} s to build: "
        + ", ".join(f"{k} {v}" for k, v in sorted(Counter(p.expected for p in pairs).items()))
    )

    base = DedupParams()
    shapes = (
        [(3, 128), (4, 128), (5, 128)] if args.quick else [(k, n) for k in (3, 4, 5) for n in (64, 128, 256)]
    )
    lsh_thresholds = (0.2, 0.3, 0.5)
    stage1: list[dict[str, Any]] = []
    cache: dict[tuple[int, int], dict[str, Fingerprint]] = {}
    for shingle_size, num_perm in shapes:
        shape = replace(base, shingle_size=shingle_size, num_perm=num_perm)
        cache[(shingle_size, num_perm)] = fps = fingerprints(texts, shape)
        for lsh_threshold in lsh_thresholds:
            found = retrieved(pairs, fps, replace(shape, lsh_threshold=lsh_threshold))
            for thresholds in threshold_grid(fine=False):
                params = replace(shape, lsh_threshold=lsh_threshold, **thresholds)
                s = score(pairs, decisions(pairs, fps, found, params))
                s["index_recall"] = (
                    sum(f for p, f in zip(pairs, found) if p.expected in LINKED) / s["positives"]
                )
                stage1.append({"params": asdict(params), "score": s})
    best1 = max(stage1, key=lambda r: rank(r["score"], DedupParams(**r["params"])))
    print_table(
        [
            "k",
            "perm",
            "lsh",
            "ver_j",
            "ver_c",
            "index rec",
            "linked rec",
            "merges",
            "dup P",
            "dup R",
            "ver P",
            "ver R",
        ],
        [
            [
                r["params"]["shingle_size"],
                r["params"]["num_perm"],
                r["params"]["lsh_threshold"],
                r["params"]["version_jaccard"],
                r["params"]["version_containment"],
                r["score"]["index_recall"],
                r["score"]["linked_recall"],
                r["score"]["merges"],
                r["score"]["duplicate"]["precision"],
                r["score"]["duplicate"]["recall"],
                r["score"]["version"]["precision"],
                r["score"]["version"]["recall"],
            ]
            for r in stage1
        ],
    )

    shape = DedupParams(**best1["params"])
    fps = cache[(shape.shingle_size, shape.num_perm)]
    found = retrieved(pairs, fps, shape)
    stage2 = []
    for thresholds in threshold_grid(fine=not args.quick):
        params = replace(shape, **thresholds)
        kinds = decisions(pairs, fps, found, params)
        stage2.append((params, score(pairs, kinds), kinds))
    chosen, chosen_score, _chosen_kinds = max(stage2, key=lambda r: rank(r[1], r[0]))
    passing = [(p, s) for p, s, _ in stage2 if meets_goal(s)]

    print(
        f"\nstage 2: {len(stage2)} threshold settings, {len(passing)} meet the goal "
        f"(0 merges, linked recall ≥ {RECALL_GOAL:.0%})"
    )
    # The defaults the service runs with (Settings), whatever the sweep ranks first: the
    # per-family table is theirs.
    defaults = DedupParams()
    default_fps = cache[(defaults.shingle_size, defaults.num_perm)]
    default_kinds = decisions(pairs, default_fps, retrieved(pairs, default_fps, defaults), defaults)
    default_score = score(pairs, default_kinds)
    print("\nchosen:", dict(asdict(chosen).items()))
    print(
        f"linked recall {chosen_score['linked_recall']:.3f}, merges {chosen_score['merges']} "
        f"of {chosen_score['negatives']} different pairs"
    )
    print(f"\ndefaults: {asdict(defaults)}")
    families = sorted({p.family for p in pairs})
    family_rows = []
    for family in families:
        kinds = Counter(k for p, k in zip(pairs, default_kinds) if p.family == family)
        expected = next(p.expected for p in pairs if p.family == family)
        family_rows.append(
            [
                family,
                expected,
                sum(kinds.values()),
                kinds["duplicate"],
                kinds["version"],
                kinds["new"],
                kinds["rejected"],
            ]
        )
    print_table(["family", "expected", "pairs", "duplicate", "version", "new", "rejected"], family_rows)
    print_table(
        ["decision", "precision", "recall", "decided", "expected"],
        [
            [
                k,
                default_score[k]["precision"],
                default_score[k]["recall"],
                default_score[k]["decided"],
                default_score[k]["expected"],
            ]
            for k in ("duplicate", "version", "new")
        ],
    )
    print(
        f"linked recall {default_score['linked_recall']:.3f}, merges {default_score['merges']} "
        f"of {default_score['negatives']} different pairs, goal {'met' if meets_goal(default_score) else 'MISSED'}"
    )
    plain = sum(word_count(p.page) >= MIN_WORDS for p in pairs if p.expected == "rejected")
    plain_refused = sum(
        word_count(p.page) < MIN_WORDS for p in pairs if p.expected not in ("rejected", "skip")
    )
    print(
        f"non-articles padded with boilerplate: {default_score['non_articles_stored']} of "
        f"{default_score['non_articles']} stored (extraction's plain word count alone: {plain} stored); "
        f"articles refused as too short: {default_score['articles_rejected']} (plain word count: {plain_refused})"
    )
    ranges = (
        {
            key: [min(getattr(p, key) for p, _ in passing), max(getattr(p, key) for p, _ in passing)]
            for key in (
                "duplicate_jaccard",
                "duplicate_containment",
                "version_jaccard",
                "version_containment",
            )
        }
        if passing
        else {}
    )
    if ranges:
        print("threshold ranges meeting the goal:", ranges)
    elapsed = time.perf_counter() - started
    print(f"{elapsed:.0f} s")
    write_results(
        "dedup_calibration",
        {
            "quick": args.quick,
            "seed": SEED,
            "pairs": len(pairs),
            "seconds": round(elapsed, 1),
            "goal": {"merges": 0, "linked_recall_at_least": RECALL_GOAL},
            "chosen": asdict(chosen),
            "chosen_score": chosen_score,
            "defaults": asdict(defaults),
            "defaults_score": default_score,
            "non_articles_stored_by_plain_word_count": plain,
            "articles_refused_by_plain_word_count": plain_refused,
            "families": [
                dict(zip(["family", "expected", "pairs", "duplicate", "version", "new", "rejected"], r))
                for r in family_rows
            ],
            "passing_ranges": ranges,
            "generalization": generalization,
            "stage1": stage1,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
