"""Counting what a crawl did, for the one-line summary and the progress line."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from store import Store

if TYPE_CHECKING:  # a type only: the crawl process of distributed mode extracts nothing
    from pipeline.page_pipeline import OutcomeKind


@dataclass
class CrawlSummary:
    pages_fetched: int = 0
    not_modified: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: int = 0

    def count_outcome(self, kind: OutcomeKind) -> None:
        field = {
            "created": "created",
            "updated": "updated",
            "duplicate": "duplicates",
            "unchanged": "unchanged",
            "rejected": "rejected",
            "failed": "errors",
        }[kind]
        setattr(self, field, getattr(self, field) + 1)

    def line(self) -> str:
        return (
            f"{self.pages_fetched} pages fetched, {self.not_modified} not modified, "
            f"{self.created} articles created, {self.updated} updated, "
            f"{self.duplicates} duplicates, {self.unchanged} unchanged, "
            f"{self.rejected} rejected, {self.errors} errors"
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def record_crawl_counts(store: Store, fetch_side: CrawlSummary, fetch_errors: int | None = None) -> None:
    """Add a finished crawl's fetch-side counts to the store's totals (shown by /metrics)."""
    store.add_crawl_counts(
        {
            "pages_fetched": fetch_side.pages_fetched,
            "not_modified": fetch_side.not_modified,
            "fetch_errors": fetch_side.errors if fetch_errors is None else fetch_errors,
        }
    )
