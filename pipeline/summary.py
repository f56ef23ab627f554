"""Counting what a crawl did, for the one-line summary and the progress line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports this module for every command, the store only for some
    from newsdedup.store import Store

# A page outcome's kind (pipeline.page_pipeline.OutcomeKind) -> the CrawlSummary field counting it.
OUTCOME_FIELDS: dict[str, str] = {
    "created": "created",
    "updated": "updated",
    "duplicate": "duplicates",
    "unchanged": "unchanged",
    "rejected": "rejected",
    "failed": "errors",
}


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

    def count_outcome(self, kind: str, pages: int = 1) -> None:
        """Count ``pages`` pages of outcome ``kind`` (an OutcomeKind)."""
        field = OUTCOME_FIELDS[kind]
        setattr(self, field, getattr(self, field) + pages)

    def line(self) -> str:
        return (
            f"{self.pages_fetched} pages fetched, {self.not_modified} not modified, "
            f"{self.created} articles created, {self.updated} updated, "
            f"{self.duplicates} duplicates, {self.unchanged} unchanged, "
            f"{self.rejected} rejected, {self.errors} errors"
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# Called with the counts so far whenever they change (the progress line).
SummaryCallback = Callable[[CrawlSummary], None]


def record_crawl_counts(store: Store, fetch_side: CrawlSummary, fetch_errors: int | None = None) -> None:
    """Add a finished crawl's fetch-side counts to the store's totals (shown by /metrics)."""
    store.add_crawl_counts(
        {
            "pages_fetched": fetch_side.pages_fetched,
            "not_modified": fetch_side.not_modified,
            "fetch_errors": fetch_side.errors if fetch_errors is None else fetch_errors,
        }
    )
