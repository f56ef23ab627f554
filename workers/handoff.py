"""The hand-off between the crawler and the rest: what a spider may call.

The crawler knows only this protocol. Embedded mode passes an object that runs
extract → dedup → store in the crawling process; distributed mode one that stores the
page and sends a Celery task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from crawler.page import Page, Validators

if TYPE_CHECKING:  # the crawler imports this module; it must not pull in the store
    from store import Store

log = logging.getLogger(__name__)


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


class StoreBackedDiscovery:
    """The conditional-request half of a PageSink, kept in the store (shared by both modes:
    the store knows what was fully processed, so its validators are safe to send).

    These run in the crawl's reactor thread, so they never wait for a store that is away:
    without validators a page is simply fetched in full, and a discovery document whose
    links cannot be saved is fetched in full next time. Nothing is lost either way.
    """

    store: Store

    def validators(self, url: str) -> Validators | None:
        return _or_else(lambda: self.store.validators(url), None, "validators")

    def validators_many(self, urls: Sequence[str]) -> dict[str, Validators]:
        return _or_else(lambda: self.store.validators_many(urls), {}, "validators")

    def discovery_links(self, url: str) -> list[str] | None:
        return _or_else(lambda: self.store.discovery_links(url), None, "the links listed last time")

    def save_discovery(self, url: str, validators: Validators, links: list[str]) -> None:
        _or_else(lambda: self.store.save_discovery(url, validators, links), None, "the links listed")


T = TypeVar("T")


def _or_else(call: Callable[[], T], fallback: T, what: str) -> T:
    from pipeline.transient import OUTAGE_ERRORS

    try:
        return call()
    except OUTAGE_ERRORS as exc:
        log.warning("store unreachable, going on without %s: %s", what, type(exc).__name__)
        return fallback
