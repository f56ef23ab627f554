"""The store's rows as the public records of docs/feed.md and docs/http-api.md."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from newsdedup.store.models import Article, Url, Version


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ordered_urls(article: Article | Row[Any], urls: Iterable[Url | Row[Any]]) -> list[Url | Row[Any]]:
    """The canonical URL first, then the other originals, then the rest as they were first seen."""
    return sorted(urls, key=lambda u: (u.url != article.canonical_url, u.relation != "original", u.id))


def feed_record(article: Article | Row[Any], urls: Iterable[Url | Row[Any]]) -> dict[str, Any]:
    """One feed record (docs/feed.md), from the ORM objects or from plain rows of their columns."""
    url_rows = ordered_urls(article, urls)
    return {
        "seq": article.seq,
        "id": article.id,
        "version": article.current_version,
        "canonical_url": article.canonical_url,
        "urls": [u.url for u in url_rows],
        "title": article.title,
        "text": article.text,
        "authors": list(article.authors or []),
        "published_at": iso(article.published_at),
        "modified_at": iso(article.modified_at),
        "language": article.language,
        "source": article.source,
        "sources": sorted({article.source, *(u.source for u in url_rows)}),
        "story_id": article.story_id,
    }


# A diff compares at most this much of each text (and this many lines): its cost is bounded
# whatever was stored (texts stored before NEWSDEDUP_MAX_TEXT_CHARS existed may be longer).
# difflib is quadratic in lines on texts of many similar short lines: 1,000 lines cost at
# most about 0.25 s (bench/hostile_input.py); a news article has a few dozen paragraphs.
DIFF_MAX_CHARS = 100_000
DIFF_MAX_LINES = 1_000


def text_diff(previous: str, current: str, previous_version: int, version: int) -> str:
    """A unified diff of two texts, line (paragraph) by line; of their beginnings only, with
    a note saying so, when either is longer than DIFF_MAX_CHARS or DIFF_MAX_LINES."""
    old, old_cut = _diff_input(previous)
    new, new_cut = _diff_input(current)
    lines = difflib.unified_diff(
        old, new, fromfile=f"version {previous_version}", tofile=f"version {version}", lineterm=""
    )
    diff = "\n".join(lines)
    if old_cut or new_cut:
        diff += (
            f"\n[diff cut: only the first {DIFF_MAX_CHARS} characters and {DIFF_MAX_LINES} lines "
            "of each version were compared]"
        )
    return diff


def _diff_input(text: str) -> tuple[list[str], bool]:
    lines = text[:DIFF_MAX_CHARS].splitlines()
    return lines[:DIFF_MAX_LINES], len(text) > DIFF_MAX_CHARS or len(lines) > DIFF_MAX_LINES


def version_records(versions: Iterable[Version], previous: Version | None = None) -> list[dict[str, Any]]:
    """The versions of one article, oldest first (docs/http-api.md); ``previous`` is
    the version before the first of them (for its diff), if any."""
    records: list[dict[str, Any]] = []
    for row in sorted(versions, key=lambda v: v.version):
        records.append(
            {
                "version": row.version,
                "title": row.title,
                "text": row.text,
                "url": row.url,
                "fetched_at": iso(row.fetched_at),
                "modified_at": iso(row.modified_at),
                "similarity": row.similarity if previous is not None else None,
                "diff": text_diff(previous.text, row.text, previous.version, row.version) if previous else "",
            }
        )
        previous = row
    return records
