"""The crawler's side of the archive: Scrapy responses in, WARC records out, and back.

``ResponseArchive`` is what the spider calls for each article page it hands on (and each 304):
it turns the Scrapy response into plain data for ``archive.WarcArchiveWriter``. ``page_from``
turns an archived (or imported) response back into the ``Page`` the crawl would have made of
it, decoding the body exactly as the spider does, so a reprocessed page reads as it did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from scrapy.http import HtmlResponse, Response
from scrapy.http.headers import Headers

from newsdedup.archive.records import ArchivedResponse, FetchedResponse
from newsdedup.archive.writer import WarcArchiveWriter
from newsdedup.crawler.encoding import html_text
from newsdedup.fetched.page import Page


def _header_lines(headers: Headers) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]


def _fetched(
    response: Response,
    url: str,
    source: str,
    crawl_id: str,
    hints: dict[str, str],
    fetched_at: datetime,
    body: bytes,
) -> FetchedResponse:
    protocol = (response.protocol or "HTTP/1.1").upper()
    return FetchedResponse(
        url=url,
        final_url=response.url,
        status=response.status,
        headers=_header_lines(response.headers),
        body=body,
        fetched_at=fetched_at,
        source=source,
        crawl_id=crawl_id,
        hints=hints,
        protocol=protocol if protocol.startswith("HTTP/") else "HTTP/1.1",
        ip_address=str(response.ip_address) if response.ip_address is not None else None,
    )


class ResponseArchive:
    """Archives what the spider fetched; one per crawl process, shared by its spiders."""

    def __init__(self, writer: WarcArchiveWriter) -> None:
        self.writer = writer

    def page(self, page: Page, response: Response) -> Page:
        """``page`` carrying the pending location of its response's record."""
        fetched = _fetched(
            response, page.url, page.source, page.crawl_id, page.hints, page.fetched_at, response.body
        )
        return replace(page, archive=self.writer.add(fetched))

    def not_modified(self, response: Response, url: str, source: str, crawl_id: str) -> None:
        self.writer.add_not_modified(_fetched(response, url, source, crawl_id, {}, datetime.now(UTC), b""))


def page_from(archived: ArchivedResponse, crawl_id: str | None = None) -> Page | str:
    """The Page the crawl made (or would have made) of ``archived``; or why it is no page
    the pipeline takes (the spider's reasons: not 200, empty, not HTML)."""
    if archived.status != 200:
        return f"HTTP {archived.status}"
    if not archived.body.strip():
        return "empty body"
    response = HtmlResponse(
        archived.final_url,
        status=archived.status,
        headers=_scrapy_headers(archived.headers),
        body=archived.body,
    )
    html = html_text(response)
    if html is None:
        kind = archived.header("Content-Type").split(";")[0].strip()
        return f"not HTML: {kind or 'unknown type'}"
    return Page(
        url=archived.url,
        final_url=archived.final_url,
        status=archived.status,
        headers={name.lower(): value for name, value in archived.headers},
        html=html,
        fetched_at=archived.fetched_at,
        source=archived.source,
        crawl_id=archived.crawl_id if crawl_id is None else crawl_id,
        hints=dict(archived.hints),
        archive=archived.location,
    )


def _scrapy_headers(lines: Iterable[tuple[str, str]]) -> Headers:
    headers = Headers()
    for name, value in lines:
        headers.appendlist(name, value)
    return headers
