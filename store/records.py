"""The store's rows as the public records of docs/feed.md and docs/http-api.md."""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from store.models import Article, Url, Version


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ordered_urls(article: Article, urls: Iterable[Url]) -> list[Url]:
    """The canonical URL first, then the other originals, then the rest as they were first seen."""
    return sorted(urls, key=lambda u: (u.url != article.canonical_url, u.relation != "original", u.id))


def feed_record(article: Article, urls: Iterable[Url]) -> dict[str, Any]:
    """One feed record (docs/feed.md)."""
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
    }


def text_diff(previous: str, current: str, previous_version: int, version: int) -> str:
    """A unified diff of two texts, line (paragraph) by line."""
    lines = difflib.unified_diff(
        previous.splitlines(),
        current.splitlines(),
        fromfile=f"version {previous_version}",
        tofile=f"version {version}",
        lineterm="",
    )
    return "\n".join(lines)


def version_records(versions: Iterable[Version]) -> list[dict[str, Any]]:
    """The versions of one article, oldest first (docs/http-api.md)."""
    records: list[dict[str, Any]] = []
    previous: Version | None = None
    for row in sorted(versions, key=lambda v: v.version):
        records.append({
            "version": row.version,
            "title": row.title,
            "text": row.text,
            "url": row.url,
            "fetched_at": iso(row.fetched_at),
            "modified_at": iso(row.modified_at),
            "similarity": row.similarity if previous is not None else None,
            "diff": text_diff(previous.text, row.text, previous.version, row.version) if previous else "",
        })
        previous = row
    return records
