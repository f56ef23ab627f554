"""The WARC records of one fetched page, as written (warcio) and as read back.

One ``response`` record per article page handed on (WARC/1.1, one gzip member per record):
``WARC-Target-URI`` is the final URL (after redirects), ``WARC-Date`` the fetch time to the
microsecond, the block the HTTP status line, headers and body. What newsdedup needs to run
the page through the pipeline again travels in extension fields of the record:

``Newsdedup-Source``, ``Newsdedup-Request-URI`` (the URL discovery listed, before redirects),
``Newsdedup-Crawl-ID`` and ``Newsdedup-Hints`` (what the feed or sitemap said, as JSON).

The body is the one the crawler received after HTTP decompression (Scrapy undoes
``Content-Encoding`` before anyone sees the response), so the HTTP headers are made to say so:
``Content-Encoding`` and ``Transfer-Encoding`` become ``X-Archive-Orig-*`` and
``Content-Length`` is the body's length, as pywb and other archiving proxies do. Every WARC
reader then reads the body back byte for byte.

A 304 Not Modified answer is a ``revisit`` record with the 1.1 ``server-not-modified``
profile: its headers only, no body.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO

from warcio.recordbuilder import RecordBuilder
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date

from newsdedup.fetched.page import ArchiveLocation

WARC_VERSION = "WARC/1.1"
SOURCE = "Newsdedup-Source"
REQUEST_URI = "Newsdedup-Request-URI"
CRAWL_ID = "Newsdedup-Crawl-ID"
HINTS = "Newsdedup-Hints"
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
# Headers that describe the bytes on the wire, not the body we keep.
_WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
ORIGINAL_PREFIX = "X-Archive-Orig-"


@dataclass(frozen=True)
class FetchedResponse:
    """A response as the crawler got it, in plain data (no Scrapy)."""

    url: str  # the URL discovery listed
    final_url: str  # after redirects
    status: int
    headers: list[tuple[str, str]]  # every header line, in order
    body: bytes
    fetched_at: datetime  # aware, UTC
    source: str
    crawl_id: str = ""
    hints: dict[str, str] = field(default_factory=dict)
    protocol: str = "HTTP/1.1"
    ip_address: str | None = None


@dataclass(frozen=True)
class ArchivedResponse:
    """A response record read back: what ``FetchedResponse`` held, and where it lies."""

    url: str
    final_url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime
    source: str
    crawl_id: str
    hints: dict[str, str]
    location: ArchiveLocation

    def header(self, name: str) -> str:
        """The last value of an HTTP header ('' when absent), as the crawler keeps one."""
        wanted = name.lower()
        found = ""
        for key, value in self.headers:
            if key.lower() == wanted:
                found = value
        return found


def warc_date(value: datetime) -> str:
    """ISO 8601 UTC with microseconds (WARC/1.1): fetch order survives in the archive."""
    value = value.astimezone(UTC).replace(tzinfo=None)
    return datetime_to_iso_date(value, use_micros=True)


def parse_warc_date(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _http_headers(
    status: int, protocol: str, headers: Iterable[tuple[str, str]], body_length: int | None
) -> StatusAndHeaders:
    lines: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in _WIRE_HEADERS:
            if lower != "content-length" or body_length is None or value.strip() != str(body_length):
                lines.append((ORIGINAL_PREFIX + name, value))
            continue
        lines.append((name, value))
    if body_length is not None:
        lines.append(("Content-Length", str(body_length)))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    return StatusAndHeaders(f"{status} {reason}", lines, protocol=protocol or "HTTP/1.1")


def _extension_fields(response: FetchedResponse) -> dict[str, str]:
    fields = {SOURCE: response.source, REQUEST_URI: response.url}
    if response.crawl_id:
        fields[CRAWL_ID] = response.crawl_id
    if response.hints:
        # ASCII JSON: a feed's title in any script stays one safe header line.
        fields[HINTS] = json.dumps(response.hints, ensure_ascii=True, sort_keys=True)
    return fields


def response_record(
    builder: RecordBuilder, response: FetchedResponse, record_id: str, warcinfo_id: str | None
) -> ArcWarcRecord:
    fields = {
        "WARC-Record-ID": record_id,
        "WARC-Date": warc_date(response.fetched_at),
        **_extension_fields(response),
    }
    if response.ip_address:
        fields["WARC-IP-Address"] = response.ip_address
    if warcinfo_id:
        fields["WARC-Warcinfo-ID"] = warcinfo_id
    return builder.create_warc_record(
        response.final_url,
        "response",
        payload=BytesIO(response.body),
        length=len(response.body),
        warc_headers_dict=fields,
        http_headers=_http_headers(response.status, response.protocol, response.headers, len(response.body)),
    )


def not_modified_record(
    builder: RecordBuilder, response: FetchedResponse, record_id: str, warcinfo_id: str | None
) -> ArcWarcRecord:
    fields = {
        "WARC-Record-ID": record_id,
        "WARC-Date": warc_date(response.fetched_at),
        "WARC-Profile": NOT_MODIFIED_PROFILE,
        **_extension_fields(response),
    }
    if warcinfo_id:
        fields["WARC-Warcinfo-ID"] = warcinfo_id
    return builder.create_warc_record(
        response.final_url,
        "revisit",
        warc_headers_dict=fields,
        http_headers=_http_headers(response.status, response.protocol, response.headers, None),
    )


def hints_of(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
