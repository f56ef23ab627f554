"""What a crawl counted, per source and in total."""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class SourceStats:
    discovered: int = 0  # distinct article URLs listed by the source's discovery documents
    pages_fetched: int = 0  # 200 HTML article pages handed to the sink
    not_modified: int = 0  # article pages that answered 304
    errors: int = 0  # article pages and discovery documents that failed (sink.failed)
    bad_links: int = 0  # unusable URLs in feeds/sitemaps ("htp://x", "javascript:..."), skipped
    over_limit: int = 0  # article URLs left out because of max_pages
    disallowed: int = 0  # article URLs robots.txt forbids, never requested (sink.skipped)
    sitemaps_left_out: int = 0  # sitemaps beyond NEWSDEDUP_MAX_SITEMAPS / _MAX_SITEMAP_DEPTH, never requested
    timed_out: int = 0  # 1 when the crawl of the source was stopped by NEWSDEDUP_CRAWL_TIME_LIMIT

    @property
    def done(self) -> int:
        return self.pages_fetched + self.not_modified + self.errors + self.disallowed


@dataclass
class CrawlStats(SourceStats):
    per_source: dict[str, SourceStats] = field(default_factory=dict)

    @classmethod
    def total(cls, per_source: dict[str, SourceStats]) -> CrawlStats:
        total = cls(per_source=dict(per_source))
        for stats in per_source.values():
            for f in fields(SourceStats):
                setattr(total, f.name, getattr(total, f.name) + getattr(stats, f.name))
        return total


@dataclass(frozen=True)
class CrawlProgress:
    """Sent to the progress callback each time one page (or discovery document) completes."""

    source: str
    url: str
    outcome: str  # "fetched", "not_modified", "failed", "discovered"
    discovered: int  # totals so far, over all sources of the crawl
    done: int
    pages_fetched: int
    not_modified: int
    errors: int
