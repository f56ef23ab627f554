"""Row factories and the live server fixture for the API tests (no tests of its own).

Records go in through ``Store.apply`` like the pipeline's, with Fingerprint values built
directly: the API tests are about what a client sees, not about dedup.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsdedup.api import create_app
from newsdedup.api.server import RunningServer, serve_in_thread
from newsdedup.config import Settings
from newsdedup.dedup.types import Decision, Fingerprint
from newsdedup.extract.document import Document
from newsdedup.fetched.page import Page
from newsdedup.store import Applied, Store

NUM_PERM = 128
BASE_TIME = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
_counter = itertools.count(1)

SOURCES_YAML = """\
sources:
  - name: alpha-news
    feeds: [http://127.0.0.1:9/alpha/rss.xml]
    schedule: 15m
  - name: beta-wire
    sitemaps: [http://127.0.0.1:9/beta/sitemap.xml]
    schedule: 1h
"""


def fingerprint(text: str) -> Fingerprint:
    digest = hashlib.sha256(text.encode()).digest()
    # Deterministic per text; the values only have to be num_perm little-endian uint32.
    values = [
        int.from_bytes(hashlib.blake2b(digest + bytes([i]), digest_size=4).digest(), "little")
        for i in range(NUM_PERM)
    ]
    return Fingerprint(
        text_hash=digest.hex(),
        signature=struct.pack(f"<{NUM_PERM}I", *values),
        shingle_count=max(1, len(text.split()) - 3),
        paragraph_hashes=(),
    )


def page_and_doc(
    url: str,
    text: str,
    title: str,
    source: str = "alpha-news",
    canonical_url: str | None = None,
    minutes: int = 0,
) -> tuple[Page, Document]:
    fetched = BASE_TIME + timedelta(minutes=minutes)
    page = Page(
        url=url,
        final_url=url,
        status=200,
        headers={},
        html=f"<html>{text}</html>",
        fetched_at=fetched,
        source=source,
    )
    doc = Document(
        text=text,
        title=title,
        url=url,
        canonical_url=canonical_url or url,
        authors=("Ann Writer",),
        published_at=fetched,
        modified_at=fetched,
        language="en",
    )
    return page, doc


def add_article(
    store: Store,
    title: str | None = None,
    text: str | None = None,
    source: str = "alpha-news",
    url: str | None = None,
) -> Applied:
    n = next(_counter)
    title = title or f"Story number {n}"
    text = text or f"Paragraph one of story {n} about the harbour.\nParagraph two with more words {n}."
    page, doc = page_and_doc(
        url or f"https://{source}.example/2024/05/story-{n}.html", text, title, source, minutes=n
    )
    return store.apply(Decision("new", None, "original", reason="test"), page, doc, fingerprint(text))


def add_version(
    store: Store, article_id: str, url: str, text: str, title: str, source: str = "alpha-news"
) -> Applied:
    n = next(_counter)
    page, doc = page_and_doc(url, text, title, source, minutes=n)
    return store.apply(
        Decision("version", article_id, "revision", similarity=0.72, reason="test"),
        page,
        doc,
        fingerprint(text),
    )


def add_duplicate(
    store: Store, article_id: str, url: str, text: str, title: str, source: str, relation: str = "syndicated"
) -> Applied:
    n = next(_counter)
    page, doc = page_and_doc(url, text, title, source, minutes=n)
    return store.apply(
        Decision("duplicate", article_id, relation, similarity=0.95, reason="test"),  # type: ignore[arg-type]
        page,
        doc,
        fingerprint(text),
    )


def write_sources(directory: Path) -> Path:
    path = directory / "sources.yaml"
    path.write_text(SOURCES_YAML, encoding="utf-8")
    return path


@contextmanager
def live_api(settings: Settings, store: Store | None = None) -> Iterator[RunningServer]:
    """The real app under a real uvicorn on a free loopback port."""
    with serve_in_thread(create_app(settings, store)) as running:
        yield running
