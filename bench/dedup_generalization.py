"""The cases that must hold for wordings nobody wrote down, built from real text, measured with the
rules before (as they were in 0.1: no learned boilerplate, no "keeps most of the body" rule, a
WARC collection imported under one source) and after, in the same run. Part of
``python -m bench.dedup_calibration``; ``--generalization`` runs only this part.

Pair kinds (``../shared/data``):

- briefs of one source (and of two) sharing a real lead sentence inside their first paragraph,
  then each telling something else (another article's sentence or paragraph);
- real sites' newsletter and subscription pitches, of every length, taken from the Fundus pages'
  HTML: each pitch makes a site whose articles (Fundus gold bodies) all carry it; on it, two short
  articles sharing the pitch (expect new), a page of chrome plus the pitch (expect rejected), an
  update at a new URL (expect a version) and a print page (expect a duplicate);
- same-event articles by different outlets (``story-events``): expect new, unless one holds most
  of the other (a wire copy: not scored); "before" imports them under one source, as
  ``import-warc --source cc-news`` did, "after" under each publisher.

Learned boilerplate is simulated as the pipeline does it (``dedup.boilerplate``): a site's lines
seen on ``LEARNED_AFTER`` of its other articles. "after, warm" judges a site's pages once it has
that many articles; "after, cold" judges them as the first pages of a new source (nothing
learned yet): the cost of starting cold, had its short pages not waited; "after, held" judges
them as the pipeline does a new source's short page (``store/held.py``): it waits until the
source has ``LEARNED_AFTER`` pages, itself and the site's first other pages, then is judged with
what those taught (a page with ``HOLD_BELOW_WORDS`` words or more is judged cold at once).
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import print_table
from newsdedup.config import Settings
from newsdedup.dedup import Candidate, DedupParams, InMemoryIndex, PageFacts, decide, normalize
from newsdedup.dedup.boilerplate import LEARNED_AFTER, line_hashes, without_boilerplate
from newsdedup.dedup.fingerprint import fingerprint_lines, normalized_lines
from newsdedup.extract.text import word_count

# The rules as they were before learned boilerplate, the "keeps most of the body" rule and the
# shared-passage rule (and, see ``rules_of``, before the long newsletter pitch patterns).
BEFORE = DedupParams(version_body_kept=0.0, shared_passage_apart=False)
AFTER = DedupParams()
LINKED = ("duplicate", "version")
STRICT = {"update": ("version",), "alternate": ("duplicate",)}
HOLD_BELOW_WORDS = Settings.model_fields["hold_below_words"].default
# A subscription call in the languages of the Fundus pages.
_PITCH_WORD = re.compile(
    r"newsletter|subscri|sign(ing)? up|inbox|abonn|suscr|iscriv|inscri|nyhetsbrev|prenumer|"
    r"anmeld|registr|e-?mail|postfach|bolet[ií]n|assine|zapisz",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[.!?:]")


@dataclass(frozen=True)
class GPair:
    family: str
    page: str
    stored: str
    same_source: bool  # after: the two pages' sources are the same
    expected: str  # "new", "rejected", "duplicate", "version" (linked), "update", "alternate", "skip"
    site: int = -1  # the synthetic site whose learned boilerplate applies (-1: none)
    one_collection: bool = False  # before: imported under one source name


def fundus_pitches(folder: Path) -> dict[str, list[str]]:
    """publisher → the subscription pitches of its pages' HTML (5 to 80 words, written as
    sentences, not menus), smallest elements first, each once."""
    import lxml.html  # deferred: only this benchmark reads HTML itself

    found: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*/*.html.gz")):
        try:
            document = lxml.html.fromstring(gzip.decompress(path.read_bytes()))
        except (ValueError, lxml.etree.ParserError):
            continue
        for bad in document.xpath("//script|//style|//noscript|//nav|//header|//footer|//select"):
            bad.drop_tree()
        texts: list[str] = []
        for element in document.iter(
            "p", "div", "span", "h2", "h3", "h4", "section", "aside", "form", "label"
        ):
            text = " ".join(element.text_content().split())
            words = text.split()
            if not 5 <= len(words) <= 80 or not _PITCH_WORD.search(text) or not _SENTENCE.search(text):
                continue
            # Menus are lists of capitalised names; pitches are sentences.
            if sum(w[:1].isupper() for w in words) > 0.5 * len(words):
                continue
            if any(text in t or t in text for t in texts):
                continue
            texts.append(text)
        if texts:
            found.setdefault(path.name.split("_")[0], []).extend(texts)
    return found


def story_event_pairs(path: Path, containment: Any) -> list[GPair]:
    """Pairs of articles of one event by different outlets: different articles, unless one
    holds most of the other (a wire copy, not scored)."""
    articles = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_story: dict[str, list[dict[str, Any]]] = {}
    for article in articles:
        by_story.setdefault(str(article["story"]), []).append(article)
    pairs: list[GPair] = []
    for group in by_story.values():
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                if first["host"] == second["host"]:
                    continue
                a, b = "\n".join(first["paragraphs"]), "\n".join(second["paragraphs"])
                if min(len(a.split()), len(b.split())) < 60:  # a stub ("... after 5-11 season") is no article
                    continue
                shared = containment(a, b)
                expected = "new" if shared < 0.5 else "skip"
                family = "same event, different outlets" + (
                    "" if expected == "new" else " (wire copy, not scored)"
                )
                pairs.append(GPair(family, b, a, False, expected, one_collection=True))
    return pairs


def first_sentence(paragraph: str) -> str:
    head, dot, _ = paragraph.partition(". ")
    return head + dot.strip() if dot and len(head.split()) >= 12 else paragraph


def lead_pairs(articles: list[list[str]], rng: random.Random, wanted: int) -> list[GPair]:
    """Two briefs whose first paragraph opens with the same real sentence, then tells something
    else: a sentence, or a paragraph, of two other articles."""
    pairs: list[GPair] = []
    usable = [a for a in articles if len(first_sentence(a[1]).split()) >= 12]
    for _ in range(wanted):
        lead_article, other, third = rng.sample(usable, 3)
        lead = first_sentence(lead_article[1])
        for shape, pick in (("sentence", first_sentence), ("paragraph", lambda p: p)):
            mine, theirs = pick(max(other[1:], key=len)), pick(max(third[1:], key=len))
            for same_source in (True, False):
                where = "one source" if same_source else "two sources"
                pairs.append(
                    GPair(
                        f"briefs opening with one lead sentence, then a {shape} ({where})",
                        f"{lead} {mine}",
                        f"{lead} {theirs}",
                        same_source,
                        "new",
                    )
                )
    return pairs


def pitch_sites(
    pitches: dict[str, list[str]], articles: list[list[str]], rng: random.Random
) -> tuple[list[GPair], list[list[str]]]:
    """A site per real pitch: articles that all carry it, and the pairs judged on the site."""
    pairs: list[GPair] = []
    sites: list[list[str]] = []
    join = "\n".join
    for publisher in sorted(pitches):
        for pitch in pitches[publisher]:
            site = len(sites)
            chosen = rng.sample(articles, LEARNED_AFTER + 3)
            # The pitch after the second paragraph on some sites, at the end on others.
            at = 3 if site % 2 else None
            texts = [join((a[:at] + [pitch] + a[at:]) if at else (a + [pitch])) for a in chosen]
            sites.append(texts[:LEARNED_AFTER])  # what the site learned from
            a, b, c = chosen[LEARNED_AFTER:]
            # Short articles: a title and the first paragraphs, 40 words or more of their own.
            briefs = [join(brief_of(art) + [pitch]) for art in (b, a)]
            pairs.append(GPair("short articles sharing a real pitch", *briefs, True, "new", site))
            dashboard = join([" ".join(c[0].split()[:10]), "Loading the live dashboard...", pitch])
            pairs.append(GPair("chrome plus a real pitch", dashboard, texts[0], True, "rejected", site))
            grown = c[:3] + [max(a[1:], key=len)] + c[3:] + [pitch]
            pairs.append(
                GPair(
                    "update at a new URL, with the pitch",
                    join(grown),
                    join(c + [pitch]),
                    True,
                    "update",
                    site,
                )
            )
            printed = c + [pitch, "Print this article"]
            pairs.append(
                GPair("print page, with the pitch", join(printed), join(c + [pitch]), True, "alternate", site)
            )
    return pairs, sites


def brief_of(article: list[str], words: int = 40) -> list[str]:
    """The article's title and as many first paragraphs as make ``words`` words."""
    taken = article[:2]
    for paragraph in article[2:]:
        if sum(len(p.split()) for p in taken[1:]) >= words:
            break
        taken.append(paragraph)
    return taken


@dataclass(frozen=True)
class SiteLines:
    warm: frozenset[str]  # lines on LEARNED_AFTER of its articles: its boilerplate once learned
    first: Counter[str]  # lines of its first LEARNED_AFTER - 1 articles: what a held page meets


def learned_sets(sites: list[list[str]]) -> list[SiteLines]:
    """Each site's boilerplate as the pipeline learns it: lines on LEARNED_AFTER of its articles."""
    learned = []
    for texts in sites:
        seen: Counter[str] = Counter()
        first: Counter[str] = Counter()
        for n, text in enumerate(texts):
            hashes = list(line_hashes(normalized_lines(text)))
            seen.update(hashes)
            if n < LEARNED_AFTER - 1:
                first.update(hashes)
        learned.append(SiteLines(frozenset(h for h, n in seen.items() if n >= LEARNED_AFTER), first))
    return learned


def held_boilerplate(page: str, site: SiteLines | None) -> frozenset[str]:
    """What a held page is judged with: lines on LEARNED_AFTER pages among it and the site's
    first other pages (nothing for a long page, judged at once, or a page of no site)."""
    lines = normalized_lines(page)
    if (
        site is None
        or word_count("\n".join(line for line, normalized in lines if normalized)) >= HOLD_BELOW_WORDS
    ):
        return frozenset()
    return frozenset(h for h in line_hashes(lines) if site.first[h] + 1 >= LEARNED_AFTER)


@contextmanager
def rules_of(mode: str) -> Iterator[None]:
    """The generic patterns of the mode: "before" knew no newsletter pitch over 30 words."""
    patterns, short_call = normalize.PITCH_LINE_PATTERNS, normalize.SHORT_CALL_WORDS
    if mode == "before":
        normalize.PITCH_LINE_PATTERNS, normalize.SHORT_CALL_WORDS = (), 0
    try:
        yield
    finally:
        normalize.PITCH_LINE_PATTERNS, normalize.SHORT_CALL_WORDS = patterns, short_call


def judge(pair: GPair, mode: str, learned: list[SiteLines], min_words: int) -> str:
    """The pipeline's path for one pair: minimum words, fingerprint, index query, decide."""
    with rules_of(mode):
        return _judge(pair, mode, learned, min_words)


def _judge(pair: GPair, mode: str, learned: list[SiteLines], min_words: int) -> str:
    params = BEFORE if mode == "before" else AFTER
    site = learned[pair.site] if pair.site >= 0 else None
    boilerplate: frozenset[str] = frozenset()
    if mode == "after, warm" and site is not None:
        boilerplate = site.warm
    elif mode == "after, held":
        boilerplate = held_boilerplate(pair.page, site)
    same_source = pair.same_source or (mode == "before" and pair.one_collection)

    def lines_of(text: str) -> list[tuple[str, str]]:
        lines = normalized_lines(text)
        return without_boilerplate(lines, boilerplate) if boilerplate else lines

    page_lines = lines_of(pair.page)
    if word_count("\n".join(line for line, normalized in page_lines if normalized)) < min_words:
        return "rejected"
    page_fp = fingerprint_lines(page_lines, params)
    stored_fp = fingerprint_lines(lines_of(pair.stored), params)
    index = InMemoryIndex(params)
    index.add("stored", stored_fp)
    if "stored" not in index.query(page_fp):
        return "new"
    candidate = Candidate(
        article_id="stored",
        version=1,
        source="origin" if same_source else "elsewhere",
        url="https://origin.example/a",
        fingerprint=stored_fp,
        is_latest=True,
    )
    page = PageFacts(
        url="https://origin.example/b", canonical_url="https://origin.example/b", source="origin"
    )
    return decide(page, page_fp, [candidate], params).kind


def right(pair: GPair, kind: str) -> bool:
    if pair.expected in ("new", "rejected"):
        return kind == pair.expected
    return kind in STRICT.get(pair.expected, LINKED)


def summary(pairs: list[GPair], kinds: list[str]) -> dict[str, Any]:
    scored = [(p, k) for p, k in zip(pairs, kinds) if p.expected != "skip"]
    positives = [(p, k) for p, k in scored if p.expected not in ("new", "rejected")]
    return {
        "merges": sum(k in LINKED for p, k in scored if p.expected == "new"),
        "different": sum(p.expected == "new" for p, _ in scored),
        "linked": sum(k in LINKED for _, k in positives),
        "linked_right": sum(right(p, k) for p, k in positives),
        "positives": len(positives),
        "non_articles_stored": sum(k != "rejected" for p, k in scored if p.expected == "rejected"),
        "non_articles": sum(p.expected == "rejected" for p, _ in scored),
        "articles_rejected": sum(k == "rejected" for p, k in scored if p.expected not in ("rejected",)),
    }


def report(
    pairs: list[GPair], learned: list[SiteLines], min_words: int, modes: tuple[str, ...]
) -> dict[str, Any]:
    """Prints the per-family table and the totals for each mode; returns them."""
    kinds = {mode: [judge(p, mode, learned, min_words) for p in pairs] for mode in modes}
    rows = []
    for family in dict.fromkeys(p.family for p in pairs):
        members = [i for i, p in enumerate(pairs) if p.family == family]
        expected = pairs[members[0]].expected
        row: list[Any] = [family, expected, len(members)]
        for mode in modes:
            row.append(sum(right(pairs[i], kinds[mode][i]) for i in members) if expected != "skip" else "-")
        rows.append(row)
    print_table(["family", "expected", "pairs", *(f"right: {m}" for m in modes)], rows)
    totals = {mode: summary(pairs, kinds[mode]) for mode in modes}
    print_table(
        [
            "rules",
            "merges of different articles",
            "linked (right kind)",
            "non-articles stored",
            "articles refused",
        ],
        [
            [
                mode,
                f"{t['merges']} of {t['different']}",
                f"{t['linked'] / max(1, t['positives']):.1%} ({t['linked_right'] / max(1, t['positives']):.1%})"
                f" of {t['positives']}",
                f"{t['non_articles_stored']} of {t['non_articles']}",
                t["articles_rejected"],
            ]
            for mode, t in totals.items()
        ],
    )
    return {"families": rows, "totals": totals}


def as_gpairs(pairs: list[Any]) -> list[GPair]:
    """The calibration's own pairs (bench.dedup_calibration.Pair), to measure them the same way."""
    return [GPair(p.family, p.page, p.stored, p.same_source, p.expected) for p in pairs]


def build(
    data: Path, articles: list[list[str]], containment: Any, seed: int, quick: bool
) -> tuple[list[GPair], list[SiteLines]]:
    rng = random.Random(seed + 2)
    pairs = lead_pairs(articles, rng, 40 if quick else 120)
    pitches = fundus_pitches(data / "news-pages-fundus")
    if quick:
        pitches = {k: v[:2] for k, v in list(pitches.items())[:40]}
    site_pairs, sites = pitch_sites(pitches, articles, rng)
    pairs += site_pairs
    events = data / "story-events" / "g5w-train.jsonl"
    if events.is_file():
        pairs += story_event_pairs(events, containment)
    return pairs, learned_sets(sites)
