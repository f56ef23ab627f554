"""Extraction quality on the Fundus news pages: ours beside trafilatura, newspaper4k, goose3.

    python -m bench.extraction [--data DIR] [--limit N] [--settings] [--no-peers]
    python -m bench.extraction --overrides [--data DIR]

Gold: ``news-pages-fundus/<country>/<Publisher>.json`` holds one record per page of that
publisher, in the order of the page files' names (``<Publisher>_<date>.html.gz``; the date is
the crawl day). Scores, per page then averaged:

- text F1: word 4-gram F1 of the extracted text against the gold body (summary, section
  headlines and paragraphs joined), as the scrapinghub article-extraction-benchmark scores;
- title: exact match after whitespace normalization;
- authors: precision and recall of case-folded names, summed over pages;
- published day: our date's calendar day (in the page's own zone) equals the gold day;
  coverage is the share of pages with a gold date for which a date was found.

Baseline: ``trafilatura.extract`` with its defaults for text, ``trafilatura.extract_metadata``
for title, authors and date. Peers, same run, when installed (``pip install -e '.[bench]'``,
else skipped with a note): newspaper4k (``Article.download(input_html=...)`` + ``parse``: text,
title, authors, publish_date) and goose3 (``Goose().extract(raw_html=...)``: cleaned_text,
title, authors, publish date). ``--settings`` also scores trafilatura option sets on text alone
(how ``extract.extractor.TRAFILATURA_OPTIONS`` was chosen).

``--overrides``: what per-source extraction overrides (the sources file's ``extraction``) do for
the publishers whose title we miss. For each such publisher the title rule an operator would
write after looking at its pages is chosen: the keyword (``headline``, ``og:title``, ``h1``)
that gets most of its pages right, or a selector from ``TITLE_SELECTORS`` where no keyword
does. Title accuracy of those publishers' pages before and after. The rules are chosen on the
very pages they are scored on (one or two per publisher), as an operator would choose them:
the figures say what an override can fix, not how well a rule carries to pages never seen.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trafilatura

from bench.common import (
    data_argument_parser,
    mean,
    print_table,
    require_dataset,
    shingle_f1,
    squash_space,
    write_results,
)
from newsdedup.extract import Document, extract_document
from newsdedup.extract import metadata as meta
from newsdedup.extract.html_tree import load_html
from newsdedup.extract.rules import ExtractionRules
from newsdedup.extract.structured import read_structured_data

_CANONICAL = re.compile(r'<link[^>]+rel=["\']?canonical["\']?[^>]*>', re.IGNORECASE)
_OG_URL = re.compile(r'<meta[^>]+property=["\']og:url["\'][^>]*>', re.IGNORECASE)
_HREF = re.compile(r'(?:href|content)=["\']([^"\']+)["\']', re.IGNORECASE)
_PAGE_NAME = re.compile(r"^(?P<publisher>.+)_(?P<day>\d{4}_\d\d_\d\d)\.html\.gz$")


@dataclass
class Case:
    path: Path
    html: str
    url: str
    gold: dict[str, Any]


@dataclass
class Prediction:
    text: str = ""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_day: str | None = None
    language: str | None = None


def gold_body(gold: dict[str, Any]) -> str:
    body = gold.get("body") or {}
    parts = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts += section.get("headline") or []
        parts += section.get("paragraphs") or []
    return "\n".join(parts)


def page_url(html: str, fallback: str) -> str:
    """The URL the page was published at, as the page says (the crawler would know it)."""
    for pattern in (_CANONICAL, _OG_URL):
        for tag in pattern.findall(html[:300_000]):
            href = _HREF.search(tag)
            if href and href.group(1).startswith("http"):
                return href.group(1)
    return fallback


def load_cases(folder: Path, limit: int) -> list[Case]:
    cases: list[Case] = []
    for gold_path in sorted(folder.glob("*/*.json")):
        publisher = gold_path.stem
        records = list(json.loads(gold_path.read_text(encoding="utf-8")).values())
        pages = sorted(
            page
            for page in gold_path.parent.glob(f"{publisher}_*.html.gz")
            if (match := _PAGE_NAME.match(page.name)) and match.group("publisher") == publisher
        )
        if len(pages) != len(records):
            print(
                f"skipping {gold_path}: {len(pages)} pages for {len(records)} gold records", file=sys.stderr
            )
            continue
        for page, record in zip(pages, records):
            raw = gzip.decompress(page.read_bytes())
            html = trafilatura.utils.decode_file(raw)
            fallback = f"https://www.{publisher.lower()}.{gold_path.parent.name}/article/{page.name[:-8]}"
            cases.append(Case(page, html, page_url(html, fallback), record))
            if limit and len(cases) >= limit:
                return cases
    return cases


def predict_ours(case: Case, rules: ExtractionRules | None = None) -> Prediction:
    result = extract_document(case.html, case.url, min_words=1, rules=rules)
    if not isinstance(result, Document):
        return Prediction()
    return Prediction(
        text=result.text,
        title=result.title,
        authors=list(result.authors),
        published_day=result.published_at.date().isoformat() if result.published_at else None,
        language=result.language,
    )


def predict_trafilatura(case: Case) -> Prediction:
    text = trafilatura.extract(case.html, url=case.url) or ""
    metadata = trafilatura.extract_metadata(case.html, default_url=case.url)
    authors = (
        [name.strip() for name in (metadata.author or "").split(";") if name.strip()] if metadata else []
    )
    return Prediction(
        text=text,
        title=metadata.title if metadata else None,
        authors=authors,
        published_day=(metadata.date or "")[:10] or None if metadata else None,
    )


def predict_newspaper4k(case: Case) -> Prediction:
    from newspaper import Article  # bench extra: pip install -e '.[bench]'

    article = Article(case.url, fetch_images=False)
    article.download(input_html=case.html)
    article.parse()
    return Prediction(
        text=article.text or "",
        title=article.title or None,
        authors=_names(article.authors),
        published_day=article.publish_date.date().isoformat() if article.publish_date else None,
    )


_GOOSE: Any = None


def predict_goose3(case: Case) -> Prediction:
    global _GOOSE
    from goose3 import Goose  # bench extra: pip install -e '.[bench]'

    if _GOOSE is None:
        _GOOSE = Goose({"enable_image_fetching": False, "strict": False})
    article = _GOOSE.extract(url=case.url, raw_html=case.html)
    published = article.publish_datetime_utc
    day = published.date().isoformat() if published else (article.publish_date or "")[:10] or None
    return Prediction(
        text=article.cleaned_text or "",
        title=article.title or None,
        authors=_names(article.authors),
        published_day=day,
    )


def _names(value: Any) -> list[str]:
    """Author names from a peer's field (strings, lists of them, {"name": ...} objects)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, (list, tuple)):
        return [name for item in value for name in _names(item)]
    return []


# Peers run when their package is installed (the "bench" extra); each is skipped otherwise.
PEERS: dict[str, tuple[str, Callable[[Case], Prediction]]] = {
    "newspaper4k": ("newspaper", predict_newspaper4k),
    "goose3": ("goose3", predict_goose3),
}


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def score(cases: list[Case], predictions: list[Prediction], languages: list[str]) -> dict[str, Any]:
    """Overall and per-language scores of one system."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, language in enumerate(languages):
        groups["all"].append(index)
        groups[language].append(index)
    report: dict[str, Any] = {}
    for group, indices in groups.items():
        f1s, title_hits, day_hits, day_found, day_total = [], 0, 0, 0, 0
        author_tp = author_predicted = author_gold = 0
        for index in indices:
            gold, prediction = cases[index].gold, predictions[index]
            f1s.append(shingle_f1(gold_body(gold), prediction.text)[2])
            title_hits += squash_space(prediction.title) == squash_space(gold.get("title"))
            gold_authors = {name.casefold().strip() for name in gold.get("authors") or []}
            predicted_authors = {name.casefold().strip() for name in prediction.authors}
            author_tp += len(gold_authors & predicted_authors)
            author_predicted += len(predicted_authors)
            author_gold += len(gold_authors)
            gold_day = (gold.get("publishing_date") or "")[:10]
            if gold_day:
                day_total += 1
                day_found += prediction.published_day is not None
                day_hits += prediction.published_day == gold_day
        report[group] = {
            "pages": len(indices),
            "text_f1": mean(f1s),
            "title_exact": title_hits / len(indices),
            "author_precision": author_tp / author_predicted if author_predicted else None,
            "author_recall": author_tp / author_gold if author_gold else None,
            "published_day": day_hits / day_total if day_total else None,
            "published_coverage": day_found / day_total if day_total else None,
        }
    return report


def run_system(
    name: str, predict: Callable[[Case], Prediction], cases: list[Case]
) -> tuple[list[Prediction], float]:
    started = time.perf_counter()
    predictions = []
    for case in cases:
        try:
            predictions.append(predict(case))
        except Exception as exc:  # noqa: BLE001 - a benchmark counts failures as empty answers
            print(f"{name} failed on {case.path}: {exc!r}", file=sys.stderr)
            predictions.append(Prediction())
    return predictions, len(cases) / (time.perf_counter() - started)


def compare_settings(cases: list[Case]) -> dict[str, float]:
    """Text F1 of trafilatura option sets (bare_extraction, no metadata)."""
    variants: dict[str, dict[str, Any]] = {
        "defaults": {},
        "no-comments": {"include_comments": False},
        "no-comments+precision": {"include_comments": False, "favor_precision": True},
        "no-comments+recall": {"include_comments": False, "favor_recall": True},
        "no-comments+no-tables": {"include_comments": False, "include_tables": False},
    }
    results = {}
    for name, options in variants.items():
        f1s = []
        for case in cases:
            extracted = trafilatura.bare_extraction(case.html, url=case.url, **options)
            f1s.append(shingle_f1(gold_body(case.gold), (extracted.text if extracted else "") or "")[2])
        results[name] = mean(f1s) or 0.0
    print_table(["trafilatura options", "text F1"], sorted(results.items(), key=lambda item: -item[1]))
    return results


def _title_candidates(case: Case) -> dict[str, str]:
    """The page's own headline candidates, site names stripped as ``extract`` strips them."""
    tree = load_html(case.html)
    if tree is None:
        return {}
    data = read_structured_data(tree)
    article = meta.choose_article_object(data, {case.url})
    names = meta.site_names_for_titles(data, article, meta.choose_site_name(data, article, None))
    headline = meta.text_value(article.get("headline")) if article else ""
    return {
        "json-ld headline": meta.strip_site_name(headline, names, case.url) if headline else "",
        "og:title": meta.strip_site_name(data.first_meta("og:title") or "", names, case.url),
        "<h1>": data.h1[0] if data.h1 else "",
    }


def title_sources(cases: list[Case]) -> dict[str, Any]:
    """Which of the page's headlines the gold title is: how far any one general rule can go.

    Where the JSON-LD headline and og:title disagree, both are the publisher's own headline
    and the gold (Fundus's per-publisher parsers) follows one or the other by publisher."""
    matches: dict[str, int] = defaultdict(int)
    split = {
        "pages": 0,
        "gold is headline": 0,
        "gold is og:title": 0,
        "neither": 0,
        "h1 agrees with og:title": 0,
        "of which gold is og:title": 0,
    }
    for case in cases:
        gold = squash_space(case.gold.get("title"))
        candidates = _title_candidates(case)
        hits = {source for source, title in candidates.items() if title and squash_space(title) == gold}
        for source in hits:
            matches[source] += 1
        matches["any of them"] += bool(hits)
        headline, og, h1 = (
            meta.squash(candidates.get(source, "")) for source in ("json-ld headline", "og:title", "<h1>")
        )
        if headline and og and headline != og:
            split["pages"] += 1
            split["gold is headline"] += "json-ld headline" in hits
            split["gold is og:title"] += "og:title" in hits
            split["neither"] += not hits & {"json-ld headline", "og:title"}
            if h1 == og:
                split["h1 agrees with og:title"] += 1
                split["of which gold is og:title"] += "og:title" in hits
    rates = {source: count / len(cases) for source, count in matches.items()}
    print("\ntitle sources: share of pages whose gold title is this candidate (site names stripped)")
    print_table(["candidate", "gold share"], sorted(rates.items(), key=lambda item: -item[1]))
    print("pages where the JSON-LD headline and og:title differ:")
    print_table(["count", "pages"], list(split.items()))
    return {"gold_share": rates, "headline_og_disagreement": split}


# Title selectors for publishers where none of the keywords is right (see --overrides).
TITLE_SELECTORS: dict[str, list[str]] = {
    # <h1> holds an overline ("Eskalation im Nahen Osten"), a hidden " - " and the headline.
    "ch/SRF": ["h1 .article-title__text"],
}
TITLE_KEYWORDS = ("headline", "og:title", "h1")


def publisher_of(case: Case) -> str:
    match = _PAGE_NAME.match(case.path.name)
    return f"{case.path.parent.name}/{match.group('publisher') if match else case.path.name}"


def _title_hits(cases: list[Case], rules: ExtractionRules | None) -> int:
    return sum(
        squash_space(predict_ours(case, rules).title) == squash_space(case.gold.get("title"))
        for case in cases
    )


def title_overrides(cases: list[Case]) -> dict[str, Any]:
    """Title accuracy, before and after a title override, of the publishers whose title we miss."""
    by_publisher: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_publisher[publisher_of(case)].append(case)
    rows, before_total, after_total, pages_total, fixed = [], 0, 0, 0, 0
    all_hits = 0
    for publisher, own in sorted(by_publisher.items()):
        before = _title_hits(own, None)
        all_hits += before
        if before == len(own):
            continue
        choices = [*TITLE_KEYWORDS, *TITLE_SELECTORS.get(publisher, [])]
        scored = [(_title_hits(own, ExtractionRules(title=choice)), choice) for choice in choices]
        best_hits, best = max(scored, key=lambda item: item[0])  # the first of equals
        after = max(before, best_hits)
        rows.append([publisher, len(own), before, best if after > before else "-", after])
        before_total += before
        after_total += after
        pages_total += len(own)
        fixed += after > before
        all_hits += after - before
    print(f"\ntitle overrides: {len(rows)} of {len(by_publisher)} publishers have titles we miss")
    print_table(["publisher", "pages", "right before", "title override", "right after"], rows)
    summary = {
        "publishers": len(by_publisher),
        "publishers_missed": len(rows),
        "publishers_improved": fixed,
        "pages_of_missed_publishers": pages_total,
        "title_exact_before": before_total / pages_total if pages_total else None,
        "title_exact_after": after_total / pages_total if pages_total else None,
        "all_pages_title_exact_before": (all_hits - (after_total - before_total)) / len(cases),
        "all_pages_title_exact_after": all_hits / len(cases),
    }
    print_table(["", "value"], list(summary.items()))
    return {"summary": summary, "publishers": rows}


def main(argv: list[str] | None = None) -> int:
    parser = data_argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="skip newspaper4k and goose3")
    parser.add_argument(
        "--settings", action="store_true", help="also compare trafilatura option sets on text F1"
    )
    parser.add_argument(
        "--overrides",
        action="store_true",
        help="only: title accuracy of the publishers we miss, before and after a title override",
    )
    args = parser.parse_args(argv)
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    cases = load_cases(folder, args.limit)
    if args.overrides:
        write_results(
            "extraction_overrides",
            {"dataset": "news-pages-fundus", "pages": len(cases), **title_overrides(cases)},
        )
        return 0
    ours, ours_speed = run_system("ours", predict_ours, cases)
    baseline, baseline_speed = run_system("trafilatura", predict_trafilatura, cases)
    languages = [prediction.language or "unknown" for prediction in ours]
    reports = {"ours": score(cases, ours, languages), "trafilatura": score(cases, baseline, languages)}
    speeds = {"ours": ours_speed, "trafilatura": baseline_speed}
    for name, (module, predict) in PEERS.items():
        if not args.peers or not installed(module):
            print(
                f"{name}: not installed, skipped (pip install -e '.[bench]')"
                if args.peers
                else f"{name}: skipped (--no-peers)"
            )
            continue
        predictions, speeds[name] = run_system(name, predict, cases)
        reports[name] = score(cases, predictions, languages)

    metrics = [
        "text_f1",
        "title_exact",
        "author_precision",
        "author_recall",
        "published_day",
        "published_coverage",
    ]
    print(f"news-pages-fundus: {len(cases)} pages\n")
    print_table(
        ["system", *metrics, "pages/s"],
        [
            [system, *(reports[system]["all"][metric] for metric in metrics), speeds[system]]
            for system in reports
        ],
    )
    print("\nper language (pages >= 5): text F1 / title exact, ours vs trafilatura")
    rows = []
    for language in sorted(reports["ours"], key=lambda key: -reports["ours"][key]["pages"]):
        if language == "all" or reports["ours"][language]["pages"] < 5:
            continue
        ours_row, base_row = reports["ours"][language], reports["trafilatura"][language]
        rows.append(
            [
                language,
                ours_row["pages"],
                ours_row["text_f1"],
                base_row["text_f1"],
                ours_row["title_exact"],
                base_row["title_exact"],
                ours_row["published_day"],
                base_row["published_day"],
            ]
        )
    print_table(
        ["lang", "pages", "F1 ours", "F1 traf", "title ours", "title traf", "day ours", "day traf"], rows
    )

    payload: dict[str, Any] = {
        "dataset": "news-pages-fundus",
        "pages": len(cases),
        "pages_per_second": speeds,
        "scores": reports,
    }
    payload["title_sources"] = title_sources(cases)
    if args.settings:
        print()
        payload["trafilatura_settings_text_f1"] = compare_settings(cases)
    write_results("extraction", payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
