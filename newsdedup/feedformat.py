"""Rendering feed records (docs/feed.md) as JSON lines, a JSON array or Atom."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator

from newsdedup.extract.safe_text import xml_safe

FORMATS = ("jsonl", "json", "atom")


def render_jsonl(records: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def render_json(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), ensure_ascii=False, indent=2) + "\n"


def render_atom(
    records: Sequence[dict[str, Any]],
    feed_url: str = "urn:newsdedup:feed",
    title: str = "newsdedup: deduplicated articles",
) -> str:
    """Valid Atom 1.0: one entry per article at its latest state, newest change first."""
    generator = FeedGenerator()
    generator.id(feed_url)
    generator.title(title)
    generator.link(href=feed_url, rel="self")
    generator.generator("newsdedup")
    dates = (_parse(r.get("modified_at") or r.get("published_at")) for r in records)
    latest = max((date for date in dates if date is not None), default=None)
    generator.updated(latest or datetime.now(UTC))
    # feedgen prepends entries, so adding oldest first leaves the newest on top.
    for record in records:
        # Cleaned again here: records stored before extraction cleaned its fields (or written
        # by another tool) must not make the whole feed unwritable.
        record = _xml_safe_record(record)
        entry = generator.add_entry()
        entry.id(f"urn:newsdedup:article:{record['id']}")
        entry.title(record.get("title") or record["canonical_url"])
        entry.link(href=record["canonical_url"])
        for url in record.get("urls", []):
            if url != record["canonical_url"]:
                entry.link(href=url, rel="related")
        updated = _parse(record.get("modified_at")) or _parse(record.get("published_at"))
        entry.updated(updated or datetime.now(UTC))
        published = _parse(record.get("published_at"))
        if published:
            entry.published(published)
        for author in record.get("authors", []):
            entry.author(name=author)
        entry.content(record.get("text", ""), type="text")
        entry.category(term=record.get("source", ""))
    return generator.atom_str(pretty=True).decode("utf-8")


def _xml_safe_record(record: dict[str, Any]) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return xml_safe(value)
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    return {key: clean(value) for key, value in record.items()}


def render(records: Sequence[dict[str, Any]], fmt: str) -> str:
    if fmt == "jsonl":
        return render_jsonl(records)
    if fmt == "json":
        return render_json(records)
    if fmt == "atom":
        return render_atom(records)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
