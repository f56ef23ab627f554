"""What the crawler hands on: one fetched article page, its validators and where its raw
response is archived. Plain data, no Scrapy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Validators:
    """HTTP validators of the last successful fetch, sent back as a conditional request."""

    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True)
class ArchiveLocation:
    """Where a page's raw response lies: a WARC file and the offset of its record.

    ``file`` is a name inside the archive folder for pages this crawler archived, or the path
    or URL given to ``newsdedup import-warc``. While the archive writer has not written the
    record yet, ``offset`` is -1 and ``record_id`` says which one to wait for.
    """

    file: str
    offset: int = -1
    record_id: str = ""

    @property
    def written(self) -> bool:
        return self.offset >= 0


@dataclass(frozen=True)
class Page:
    url: str  # the URL discovery listed (feed, sitemap, listing)
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-case names; one value each
    html: str  # decoded text (Scrapy's encoding detection: header, BOM, meta, sniffing)
    fetched_at: datetime  # aware, UTC
    source: str  # name of the source in the sources file
    crawl_id: str = ""
    # What discovery said about the page (feed entry / sitemap news tags), as hints only.
    hints: dict[str, str] = field(default_factory=dict)
    # The WARC record of the raw response, when the archive is on (archive/).
    archive: ArchiveLocation | None = None

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))
