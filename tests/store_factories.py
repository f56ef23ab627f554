"""Row factories for the store tests: pages, documents, fingerprints and decisions built
directly from the contract types (no dependency on dedup's own fingerprinting)."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta

from newsdedup.dedup.types import Decision, Fingerprint, Relation
from newsdedup.extract.document import Document
from newsdedup.fetched.page import Page

NUM_PERM = 128
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def fingerprint_of(text: str) -> Fingerprint:
    """A deterministic, storable fingerprint: 128 little-endian uint32 derived from the text."""
    digest = hashlib.sha256(text.encode()).digest()
    values = [
        int.from_bytes(hashlib.sha256(digest + i.to_bytes(2, "little")).digest()[:4], "little")
        for i in range(NUM_PERM)
    ]
    paragraphs = [p for p in text.split("\n") if p.strip()]
    return Fingerprint(
        text_hash=hashlib.sha256(text.encode()).hexdigest(),
        signature=struct.pack(f"<{NUM_PERM}I", *values),
        shingle_count=len(set(text.split())),
        paragraph_hashes=tuple(hashlib.sha1(p.encode()).hexdigest()[:16] for p in paragraphs),
    )


def page_at(url: str, source: str = "wire", minutes: int = 0, crawl_id: str = "c1") -> Page:
    return Page(
        url=url,
        final_url=url,
        status=200,
        headers={"content-type": "text/html"},
        html="<html></html>",
        fetched_at=T0 + timedelta(minutes=minutes),
        source=source,
        crawl_id=crawl_id,
    )


def doc_at(
    url: str,
    text: str,
    canonical_url: str | None = None,
    title: str = "Title",
    authors: tuple[str, ...] = ("Ann Writer",),
    language: str | None = "en",
    modified_minutes: int | None = None,
) -> Document:
    return Document(
        text=text,
        title=title,
        url=url,
        canonical_url=canonical_url or url,
        authors=authors,
        published_at=T0,
        language=language,
        modified_at=T0 + timedelta(minutes=modified_minutes) if modified_minutes is not None else None,
    )


def new() -> Decision:
    return Decision(kind="new", article_id=None, relation="original", reason="nothing like it")


def version_of(article_id: str, similarity: float = 0.7) -> Decision:
    return Decision(
        kind="version",
        article_id=article_id,
        relation="revision",
        similarity=similarity,
        reason="revised text",
    )


def duplicate_of(article_id: str, relation: Relation = "syndicated") -> Decision:
    return Decision(
        kind="duplicate", article_id=article_id, relation=relation, similarity=0.95, reason="near-duplicate"
    )


def unchanged(article_id: str) -> Decision:
    return Decision(
        kind="unchanged", article_id=article_id, relation="original", similarity=1.0, reason="same text"
    )


def story(n: int) -> str:
    """A distinct article text of a few paragraphs."""
    return "\n".join(
        f"Paragraph {p} of story {n}: the council met and voted on item {n * 10 + p}." for p in range(3)
    )
