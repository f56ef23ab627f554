"""Helpers shared by the benchmarks: where the data is, scoring, tables, result files.

Benchmarks read the real pages in ``../shared/data`` beside the checkout (never copied into
the repository) and write their numbers to ``bench/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]  # the checkout
DEFAULT_DATA = REPO.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"

# Word tokens, with each CJK/Thai character a token of its own (those scripts use no spaces).
_TOKEN = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]|[^\W_]+", re.UNICODE
)


def data_argument_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"shared data folder (default {DEFAULT_DATA})"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages (0: all)")
    return parser


def require_dataset(data: Path, name: str) -> Path | None:
    """The dataset folder, or None after telling the user it is missing (callers exit 0)."""
    folder = data / name
    if not folder.is_dir():
        print(f"dataset {name!r} not found under {data}: nothing to measure (pass --data DIR).")
        return None
    return folder


def tokens(text: str) -> list[str]:
    return [token.casefold() for token in _TOKEN.findall(text or "")]


def shingle_f1(gold: str, predicted: str, n: int = 4) -> tuple[float, float, float]:
    """(precision, recall, F1) of word n-gram multisets, as the scrapinghub
    article-extraction-benchmark scores extracted text against the gold body."""

    def shingles(text: str) -> Counter[tuple[str, ...]]:
        words = tokens(text)
        if len(words) < n:
            return Counter([tuple(words)]) if words else Counter()
        return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))

    gold_shingles, predicted_shingles = shingles(gold), shingles(predicted)
    if not gold_shingles and not predicted_shingles:
        return 1.0, 1.0, 1.0
    overlap = sum((gold_shingles & predicted_shingles).values())
    precision = overlap / sum(predicted_shingles.values()) if predicted_shingles else 0.0
    recall = overlap / sum(gold_shingles.values()) if gold_shingles else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def squash_space(text: str | None) -> str:
    return " ".join((text or "").split())


def mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    rendered = [[cell(value) for value in row] for row in rows]
    widths = [
        max(len(str(header)), *(len(row[i]) for row in rendered)) if rendered else len(header)
        for i, header in enumerate(headers)
    ]
    print("  ".join(str(header).ljust(width) for header, width in zip(headers, widths)))
    print("  ".join("-" * width for width in widths))
    for row in rendered:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)))


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"\nresults written to {path}", file=sys.stderr)
    return path


def clean_environment() -> dict[str, str]:
    """This process's environment without its NEWSDEDUP_* variables, for a ``newsdedup`` child
    process given exactly the settings a benchmark adds (``Settings.as_environment``, no settings)."""
    from newsdedup.config import Settings  # deferred: the benchmarks that start no command skip it

    return Settings.model_construct().as_environment(os.environ, leave_out=frozenset(Settings.model_fields))
