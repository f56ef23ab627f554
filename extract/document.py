"""Results of extraction. Plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Longer article texts are rejected ("too-long"), not cut: a cut text would be a different
# text on every change of the page's length, and no news article is that long (the longest
# long-reads run to about 120,000 characters). NEWSDEDUP_MAX_TEXT_CHARS sets it.
DEFAULT_MAX_TEXT_CHARS = 200_000


@dataclass(frozen=True)
class Document:
    text: str  # clean article text, paragraphs separated by "\n"
    title: str
    url: str  # the URL the page was fetched at (final, after redirects)
    canonical_url: str  # normalized: rel=canonical / og:url when trustworthy, else url
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None  # aware (UTC when the page gives no zone)
    modified_at: datetime | None = None
    language: str | None = None  # ISO 639-1
    description: str | None = None
    site_name: str | None = None

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n") if p.strip()]


@dataclass(frozen=True)
class Rejection:
    """A page that holds no article. ``reason`` is a short stable code, ``detail`` for humans."""

    url: str
    reason: str  # e.g. "not-html", "empty", "no-article-text", "too-short", "too-large"
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)
