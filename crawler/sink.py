"""The port the crawler calls: what a spider may do with what it fetched.

The crawler knows only this protocol. Embedded mode passes an object that runs
extract → dedup → store in the crawling process; distributed mode one that stores the
page and sends a Celery task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from newsdedup.fetched.page import Page, Validators


class PageSink(Protocol):
    def validators(self, url: str) -> Validators | None:
        """Validators of the last fetch of ``url`` that was fully processed, for a conditional GET."""

    def validators_many(self, urls: Sequence[str]) -> dict[str, Validators]:
        """``validators`` of the URLs a discovery document listed, at once; URLs without any are left out."""

    def discovery_links(self, url: str) -> list[str] | None:
        """Article URLs a feed/sitemap/listing listed last time (used when it answers 304)."""

    def save_discovery(self, url: str, validators: Validators, links: list[str]) -> None:
        """Remember what a discovery document listed, with its validators."""

    def accept(self, page: Page) -> None:
        """Take one fetched article page (status 200, HTML). Must not raise for bad content."""

    def not_modified(self, url: str, source: str) -> None:
        """An article page answered 304: nothing to do but count (and touch last_seen)."""

    def skipped(self, url: str, source: str, reason: str) -> None:
        """An article URL deliberately not fetched (robots.txt disallows it)."""

    def failed(self, url: str, source: str, reason: str) -> None:
        """A page or discovery document could not be used (HTTP error, not HTML, too large,
        broken feed, offsite redirect, timeout...). ``reason`` is short and human-readable."""
