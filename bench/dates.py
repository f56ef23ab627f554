"""Published-day accuracy on the Media Cloud pages: ours beside htmldate and newspaper4k, same run.

    python -m bench.dates [--data DIR] [--limit N]

Gold: ``dates-mediacloud/gold.json`` maps each page's URL to its file and publication day,
set by hand by the htmldate project. A page counts as right when the day found equals the
gold day (our datetime's own calendar day, in the zone the page gave). Also checks that no
Document has a ``modified_at`` earlier than its ``published_at``. newspaper4k runs when installed
(``pip install -e '.[bench]'``), else it is skipped with a note.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
import time
from typing import Any

from htmldate import find_date
from trafilatura.utils import decode_file

from bench.common import data_argument_parser, print_table, require_dataset, write_results
from newsdedup.extract import Document, extract_document


def main(argv: list[str] | None = None) -> int:
    args = data_argument_parser(__doc__.splitlines()[0]).parse_args(argv)
    folder = require_dataset(args.data, "dates-mediacloud")
    if folder is None:
        return 0
    gold: dict[str, dict[str, str]] = json.loads((folder / "gold.json").read_text(encoding="utf-8"))
    items = list(gold.items())[: args.limit or None]

    pages = []
    for url, record in items:
        path = folder / "pages" / f"{record['file']}.gz"
        if not path.exists():
            path = folder / "pages" / record["file"]
        raw = path.read_bytes()
        pages.append(
            (url, record["date"], decode_file(gzip.decompress(raw) if path.suffix == ".gz" else raw))
        )

    ours_days: list[str | None] = []
    order_violations = 0
    started = time.perf_counter()
    for url, _, html in pages:
        result = extract_document(html, url, min_words=0)
        if isinstance(result, Document) and result.published_at:
            ours_days.append(result.published_at.date().isoformat())
            if result.modified_at and result.modified_at < result.published_at:
                order_violations += 1
        else:
            ours_days.append(None)
    ours_speed = len(pages) / (time.perf_counter() - started)

    htmldate_days: list[str | None] = []
    started = time.perf_counter()
    for url, _, html in pages:
        try:
            htmldate_days.append(find_date(html, extensive_search=True, url=url))
        except Exception as exc:  # noqa: BLE001
            print(f"htmldate failed on {url}: {exc!r}", file=sys.stderr)
            htmldate_days.append(None)
    htmldate_speed = len(pages) / (time.perf_counter() - started)

    # newspaper4k, when installed (the "bench" extra): Article.publish_date after parse().
    peer_days: list[str | None] | None = None
    peer_speed = 0.0
    if importlib.util.find_spec("newspaper") is None:
        print("newspaper4k: not installed, skipped (pip install -e '.[bench]')")
    else:
        from newspaper import Article

        peer_days = []
        started = time.perf_counter()
        for url, _, html in pages:
            try:
                article = Article(url, fetch_images=False)
                article.download(input_html=html)
                article.parse()
                peer_days.append(article.publish_date.date().isoformat() if article.publish_date else None)
            except Exception as exc:  # noqa: BLE001
                print(f"newspaper4k failed on {url}: {exc!r}", file=sys.stderr)
                peer_days.append(None)
        peer_speed = len(pages) / (time.perf_counter() - started)

    def summary(days: list[str | None]) -> dict[str, Any]:
        right = sum(day == gold_day for day, (_, gold_day, _) in zip(days, pages))
        found = sum(day is not None for day in days)
        return {
            "accuracy": right / len(pages),
            "coverage": found / len(pages),
            "precision": right / found if found else None,
        }

    reports = {"ours": summary(ours_days), "htmldate extensive": summary(htmldate_days)}
    speeds = {"ours": ours_speed, "htmldate extensive": htmldate_speed}
    if peer_days is not None:
        reports["newspaper4k"] = summary(peer_days)
        speeds["newspaper4k"] = peer_speed
    print(f"dates-mediacloud: {len(pages)} pages\n")
    print_table(
        ["system", "day accuracy", "coverage", "precision", "pages/s"],
        [
            [name, report["accuracy"], report["coverage"], report["precision"], speeds[name]]
            for name, report in reports.items()
        ],
    )
    print(f"\nmodified_at earlier than published_at: {order_violations} documents")
    write_results(
        "dates",
        {
            "dataset": "dates-mediacloud",
            "pages": len(pages),
            "scores": reports,
            "pages_per_second": speeds,
            "modified_before_published": order_violations,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
