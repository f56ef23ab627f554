"""Versions mean the article changed: chrome churn and one-word corrections on real pages.

    python -m bench.versions [--data DIR] [--limit N]

Takes the Fundus news pages (``news-pages-fundus``) and, in each page's HTML tree, finds the
body paragraphs the gold names. Then it builds pairs of fetches of the same URL:

- chrome churn: the page with one kind of chrome injected around and inside the article body,
  and the same page with that chrome's next state: an "Updated N minutes ago" line and a
  "Last updated: <date time>" line under the first body paragraph, a time in a byline
  ("By Jane Doe, 10:42 AM" → "11:07 AM"), a comment count after the last paragraph, a
  rotating "Most read" list, an ad slot with rotating copy, a cookie banner, a "Related:"
  link line and a "Related stories" box, and all of these at once. The markup is neutral
  (no class names that give it away), the hard case. German pages get German wording.
  Goal: 0 spurious versions.
- corrections: the page with all chrome in its first state, and the page with the chrome in
  its second state and one number (n → n+1) or one name (a capitalised word inside a sentence
  → another) changed in one sentence of one body paragraph. Goal: every one is a version.

Each fetch goes through ``extract_document`` → ``dedup.fingerprint`` → ``dedup.decide`` with
the first fetch as the known-URL candidate (rule 1: its ``url_text_hash``), as the pipeline
judges a re-fetched URL. Beside it, in the same run: plain trafilatura text hashing
(``trafilatura.extract`` with its defaults; a new version whenever the hash changes).
"""

from __future__ import annotations

import copy
import hashlib
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trafilatura
from lxml import html as lxml_html

from bench.common import data_argument_parser, print_table, require_dataset, write_results
from bench.extraction import Case, load_cases
from newsdedup.dedup import Candidate, DedupParams, PageFacts, decide, fingerprint
from newsdedup.extract import Document, extract_document
from newsdedup.extract.metadata import squash

PARAMS = DedupParams()
_NUMBER = re.compile(r"(?<![\d.,])\d{1,6}(?![\d.,]?\d)")
_NAME = re.compile(r"(?<=[a-zà-ÿ,;] )[A-ZÀ-Þ][a-zà-ÿ]{3,}\b")

# Chrome in two states; {0} / {1} are filled from the state's values.
STATES = {
    "en": {
        "updated": ("Updated 5 minutes ago", "Updated 1 hour ago"),
        "last_updated": ("Last updated: March 3, 2026 10:05", "Last updated: March 3, 2026 11:40"),
        "byline": ("By Jane Doe, 10:42 AM", "By Jane Doe, 11:07 AM"),
        "comments": ("12 comments", "31 comments"),
        "most_read": (
            [
                "Ferry timetable changes for the summer season",
                "Local bakery wins national bread award",
                "Storm warning for the coast tonight",
            ],
            [
                "Police appeal after break-ins at allotments",
                "Ferry timetable changes for the summer season",
                "Council tax bills explained",
            ],
        ),
        "ad": (
            ("Advertisement", "Find the best mortgage rates today with our partners"),
            ("Advertisement", "Holiday deals to the coast from 99 dollars, book this week only"),
        ),
        "cookie": (
            "We use cookies to improve your experience. Read our cookie policy.",
            "This website uses cookies and similar technologies. Manage your preferences.",
        ),
        "related_line": (
            "Related: Flood repairs to start on the ring road next week",
            "Related: Bus depot plan goes to public consultation in April",
        ),
        "related_box": (
            (
                "Related stories",
                [
                    "Flood repairs to start on the ring road next week",
                    "New head teacher named at the academy",
                ],
            ),
            (
                "Related stories",
                [
                    "Bus depot plan goes to public consultation",
                    "Flood repairs to start on the ring road next week",
                ],
            ),
        ),
    },
    "de": {
        "updated": ("vor 5 Minuten", "vor 2 Stunden"),
        "last_updated": ("Aktualisiert am 03.03.2026, 10:05 Uhr", "Aktualisiert am 03.03.2026, 12:40 Uhr"),
        "byline": ("Von Anna Berg, 10:42 Uhr", "Von Anna Berg, 11:07 Uhr"),
        "comments": ("12 Kommentare", "31 Kommentare"),
        "most_read": (
            [
                "Unfall auf der B27 sorgt für Stau",
                "Bäckerei am Markt schließt",
                "Unwetterwarnung für heute Nacht",
            ],
            [
                "Polizei sucht Zeugen nach Einbruch",
                "Unfall auf der B27 sorgt für Stau",
                "Grundsteuer einfach erklärt",
            ],
        ),
        "ad": (
            ("Anzeige", "Jetzt Strom vergleichen und bis zu 300 Euro im Jahr sparen"),
            ("Anzeige", "Urlaub an der Ostsee ab 199 Euro buchen"),
        ),
        "cookie": (
            "Wir verwenden Cookies, um Ihnen ein besseres Erlebnis zu bieten.",
            "Diese Website nutzt Cookies. Einstellungen anpassen.",
        ),
        "related_line": (
            "Lesen Sie auch: Neue Radwege am Flussufer geplant",
            "Lesen Sie auch: Feuerwehr bekommt neues Gerätehaus",
        ),
        "related_box": (
            ("Mehr zum Thema", ["Neue Radwege am Flussufer geplant", "Schule bekommt neue Turnhalle"]),
            ("Mehr zum Thema", ["Feuerwehr bekommt neues Gerätehaus", "Neue Radwege am Flussufer geplant"]),
        ),
    },
}
KINDS = [
    "updated",
    "last_updated",
    "byline",
    "comments",
    "most_read",
    "ad",
    "cookie",
    "related_line",
    "related_box",
]


@dataclass
class Prepared:
    case: Case
    tree: Any
    body: list[Any]  # the tree's <p>-like elements holding gold body paragraphs, in order
    language: str


def _element(markup: str) -> Any:
    return lxml_html.fragment_fromstring(markup)


def _links(items: list[str]) -> str:
    return "".join(f'<li><a href="/story/{i}">{item}</a></li>' for i, item in enumerate(items))


def _chrome(kind: str, value: Any) -> tuple[str, str]:
    """(where, markup) of one chrome kind in one state. where: first, last, top."""
    if kind in ("updated", "last_updated", "byline", "related_line"):
        link = value.split(": ", 1)
        text = f'{link[0]}: <a href="/story/9">{link[1]}</a>' if kind == "related_line" else value
        return ("first" if kind != "related_line" else "middle"), f"<p>{text}</p>"
    if kind == "comments":
        return "last", f'<p><a href="#comments">{value}</a></p>'
    if kind == "most_read":
        heading = "Meistgelesen" if "Stau" in value[0] or "Polizei" in value[0] else "Most read"
        return "last", f"<div><h3>{heading}</h3><ul>{_links(value)}</ul></div>"
    if kind == "ad":
        return "middle", f"<div><span>{value[0]}</span><p>{value[1]}</p></div>"
    if kind == "cookie":
        return "top", f'<div><p>{value}</p><a href="/privacy">OK</a></div>'
    if kind == "related_box":
        return "middle", f"<div><h3>{value[0]}</h3><ul>{_links(value[1])}</ul></div>"
    raise ValueError(kind)


def render(
    prepared: Prepared, kinds: list[str], state: int, correct: Callable[[Any], None] | None = None
) -> str:
    paths = [prepared.tree.getroottree().getpath(el) for el in prepared.body]
    tree = copy.deepcopy(prepared.tree)
    elements = [tree.getroottree().xpath(path)[0] for path in paths]
    for kind in kinds:
        where, markup = _chrome(kind, STATES[prepared.language][kind][state])
        new = _element(markup)
        if where == "top":
            page_body = tree.find(".//body")
            (page_body if page_body is not None else tree).insert(0, new)
        elif where == "first":
            elements[0].addnext(new)
        elif where == "middle":
            elements[len(elements) // 2].addnext(new)
        else:
            elements[-1].addnext(new)
    if correct is not None:
        correct(elements)
    return lxml_html.tostring(tree, encoding="unicode")


def prepare(case: Case) -> Prepared | None:
    try:
        tree = lxml_html.document_fromstring(case.html)
    except Exception:  # noqa: BLE001 - pages lxml cannot read are not cases
        return None
    # Paragraphs of the body's sections (the gold's "summary" is often a teaser or the
    # description, outside the article text).
    sections = (case.gold.get("body") or {}).get("sections") or []
    paragraphs = [
        squash(p)[:60] for section in sections for p in section.get("paragraphs") or [] if len(p.split()) >= 8
    ]
    wanted = {p for p in paragraphs if len(p) >= 30}
    body = [
        el
        for el in tree.iter("p", "div", "li")
        if len(el) <= 6
        and squash(el.text_content())[:60] in wanted
        and not any(child.tag in ("p", "div") for child in el)
    ]
    if len(body) < 2:
        return None
    lang = (tree.get("lang") or "")[:2].lower()
    return Prepared(case, tree, body, "de" if lang == "de" else "en")


def _replace_in(element: Any, pattern: re.Pattern[str], change: Callable[[str], str]) -> bool:
    """Change the first match of ``pattern`` in the element's own text nodes (not attributes)."""
    for node in [element, *element.iterdescendants()]:
        for attr in ("text", "tail"):
            if node is element and attr == "tail":
                continue
            value = getattr(node, attr)
            if value and (match := pattern.search(value)):
                setattr(node, attr, value[: match.start()] + change(match.group(0)) + value[match.end() :])
                return True
    return False


def correction(kind: str) -> Callable[[list[Any]], None] | None:
    """A function changing one number or one name in the first body paragraph that has one."""
    pattern = _NUMBER if kind == "number" else _NAME

    def change(word: str) -> str:
        if kind == "number":
            return str(int(word) + 1)
        return "Morrison" if word != "Morrison" else "Harrison"

    def apply(elements: list[Any]) -> None:
        for element in elements:
            if _replace_in(element, pattern, change):
                return
        raise LookupError(kind)

    return apply


def has_target(prepared: Prepared, kind: str) -> bool:
    pattern = _NUMBER if kind == "number" else _NAME
    return any(pattern.search(el.text_content()) for el in prepared.body)


# --------------------------------------------------------------------------- the two systems


def ours_is_new_version(url: str, before: str, after: str) -> bool | None:
    """decide() on the second fetch with the first as the known-URL candidate; None: no Document."""
    first, second = extract_document(before, url, min_words=1), extract_document(after, url, min_words=1)
    if not isinstance(first, Document) or not isinstance(second, Document):
        return None
    fp_first, fp_second = fingerprint(first.text, PARAMS), fingerprint(second.text, PARAMS)
    candidate = Candidate(
        article_id="a",
        version=1,
        source="s",
        url=first.url,
        fingerprint=fp_first,
        is_latest=True,
        found_by="url",
        url_relation="original",
        url_text_hash=fp_first.text_hash,
    )
    return (
        decide(PageFacts(second.url, second.canonical_url, "s"), fp_second, [candidate], PARAMS).kind
        == "version"
    )


def trafilatura_is_new_version(url: str, before: str, after: str) -> bool | None:
    first, second = trafilatura.extract(before, url=url), trafilatura.extract(after, url=url)
    if not first or not second:
        return None
    return hashlib.sha256(first.encode()).digest() != hashlib.sha256(second.encode()).digest()


SYSTEMS: dict[str, Callable[[str, str, str], bool | None]] = {
    "ours (extract+fingerprint+decide)": ours_is_new_version,
    "trafilatura text hash": trafilatura_is_new_version,
}


def main(argv: list[str] | None = None) -> int:
    parser = data_argument_parser(__doc__.splitlines()[0])
    parser.set_defaults(limit=60)
    parser.description = (
        "Spurious-version rate under chrome churn and correction recall (default --limit 60 pages)"
    )
    args = parser.parse_args(argv)
    folder = require_dataset(args.data, "news-pages-fundus")
    if folder is None:
        return 0
    started = time.perf_counter()
    prepared = [p for p in (prepare(case) for case in load_cases(folder, args.limit)) if p is not None]

    # (family, kind) → system → [verdicts]
    verdicts: dict[tuple[str, str], dict[str, list[bool | None]]] = defaultdict(lambda: defaultdict(list))
    examples: dict[str, list[str]] = defaultdict(list)
    for page in prepared:
        url = page.case.url
        for kind in [*KINDS, "all"]:
            kinds = KINDS if kind == "all" else [kind]
            before, after = render(page, kinds, 0), render(page, kinds, 1)
            for system, judge in SYSTEMS.items():
                verdict = judge(url, before, after)
                verdicts[("churn", kind)][system].append(verdict)
                if verdict and system.startswith("ours") and len(examples[kind]) < 5:
                    examples[kind].append(str(page.case.path.relative_to(folder)))
        for kind in ("number", "name"):
            if not has_target(page, kind):
                continue
            before, after = render(page, KINDS, 0), render(page, KINDS, 1, correction(kind))
            for system, judge in SYSTEMS.items():
                verdict = judge(url, before, after)
                verdicts[("correction", kind)][system].append(verdict)
                if verdict is False and system.startswith("ours") and len(examples[f"missed {kind}"]) < 5:
                    examples[f"missed {kind}"].append(str(page.case.path.relative_to(folder)))

    def rate(values: list[bool | None]) -> float | None:
        judged = [v for v in values if v is not None]
        return sum(judged) / len(judged) if judged else None

    rows, report = [], {}
    for (family, kind), by_system in verdicts.items():
        label = "spurious-version rate" if family == "churn" else "correction recall"
        row = [family, kind, len(by_system[next(iter(SYSTEMS))])]
        for system in SYSTEMS:
            value = rate(by_system[system])
            row.append(value)
            report.setdefault(system, {}).setdefault(family, {})[kind] = {
                label: value,
                "pairs": len(by_system[system]),
            }
        rows.append(row)
    print(f"news-pages-fundus: {len(prepared)} pages with body paragraphs found (of --limit {args.limit})\n")
    print("churn: share of chrome-only changes judged a new version (goal 0)")
    print("correction: share of one-word corrections judged a new version (goal 1)\n")
    print_table(["family", "kind", "pairs", *SYSTEMS], rows)
    totals = {
        system: {
            "spurious_version_rate": rate(
                [v for (f, _), s in verdicts.items() if f == "churn" for v in s[system]]
            ),
            "correction_recall": rate(
                [v for (f, _), s in verdicts.items() if f == "correction" for v in s[system]]
            ),
        }
        for system in SYSTEMS
    }
    print()
    print_table(
        ["system", "spurious-version rate", "correction recall"],
        [[system, t["spurious_version_rate"], t["correction_recall"]] for system, t in totals.items()],
    )
    if examples:
        print("\nours, failing pages (up to 5 per kind):", file=sys.stderr)
        for kind, pages in examples.items():
            print(f"  {kind}: {', '.join(pages)}", file=sys.stderr)
    write_results(
        "versions",
        {
            "dataset": "news-pages-fundus",
            "pages": len(prepared),
            "totals": totals,
            "by_kind": report,
            "failing_examples": examples,
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
