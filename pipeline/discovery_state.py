"""The conditional-GET half of a ``crawler.sink.PageSink``, kept in the store: the part that
the embedded and the distributed sinks share."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from newsdedup.fetched.page import Validators
from newsdedup.pipeline.transient import OUTAGE_ERRORS

if TYPE_CHECKING:
    from newsdedup.store import Store

log = logging.getLogger(__name__)


class StoreBackedDiscovery:
    """The conditional-request half of a PageSink, kept in the store (shared by both modes:
    the store knows what was fully processed, so its validators are safe to send).

    These run in the crawl's reactor thread, so they never wait for a store that is away:
    without validators a page is simply fetched in full, and a discovery document whose
    links cannot be saved is fetched in full next time. Nothing is lost either way.
    """

    store: Store

    def validators(self, url: str) -> Validators | None:
        return _or_else(lambda: self.store.fetch_states.validators(url), None, "validators")

    def validators_many(self, urls: Sequence[str]) -> dict[str, Validators]:
        return _or_else(lambda: self.store.fetch_states.validators_many(urls), {}, "validators")

    def discovery_links(self, url: str) -> list[str] | None:
        return _or_else(
            lambda: self.store.fetch_states.discovery_links(url), None, "the links listed last time"
        )

    def save_discovery(self, url: str, validators: Validators, links: list[str]) -> None:
        _or_else(
            lambda: self.store.fetch_states.save_discovery(url, validators, links), None, "the links listed"
        )


T = TypeVar("T")


def _or_else(call: Callable[[], T], fallback: T, what: str) -> T:
    try:
        return call()
    except OUTAGE_ERRORS as exc:
        log.warning("store unreachable, going on without %s: %s", what, type(exc).__name__)
        return fallback
