"""Reading WARC files with warcio: the archive in fetch order, one record at a location, and
foreign WARC files (Common Crawl's CC-NEWS and the like), all streamed.

Memory stays flat whatever the file's size: records are read one at a time, a body is read
only for an HTML response no larger than the caller's limit, and everything else is skipped
by streaming past it. warcio, not FastWARC: FastWARC read the same gzipped WARC 2.5× faster
here, but reading is under 2 % of what a page costs on its way to the store (bench/README.md,
"archive"), and warcio is the library that writes the archive.
"""

from __future__ import annotations

import heapq
import io
import logging
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from newsdedup.archive.records import (
    CRAWL_ID,
    HINTS,
    REQUEST_URI,
    SOURCE,
    ArchivedResponse,
    hints_of,
    parse_warc_date,
)
from newsdedup.archive.writer import FILE_PREFIX, FILE_SUFFIX
from newsdedup.fetched.page import ArchiveLocation

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
USER_AGENT = "newsdedup import-warc (+https://github.com/newsdedup/newsdedup)"
READ_ERRORS = (ArchiveLoadFailed, EOFError, OSError, ValueError)


@dataclass
class ReadCounts:
    """What reading a set of WARC files skipped, by reason (shown after an import)."""

    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def line(self) -> str:
        if not self.skipped:
            return "0 records skipped"
        parts = ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        return f"{self.total_skipped} records skipped: {parts}"


class ByteCounter:
    """A read-only stream that counts the bytes read through it (for progress bars)."""

    def __init__(self, raw: BinaryIO, on_read: Callable[[int], None]) -> None:
        self.raw = raw
        self.on_read = on_read

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            self.on_read(len(data))
        return data

    def close(self) -> None:
        self.raw.close()


# --- one record ---


def _response(
    record: ArcWarcRecord, location: ArchiveLocation, body: bytes, source: str | None
) -> ArchivedResponse:
    """``source`` None: the one the record names (our archive); else this one (an import)."""
    warc = record.rec_headers
    target = warc.get_header("WARC-Target-URI") or ""
    return ArchivedResponse(
        url=warc.get_header(REQUEST_URI) or target,
        final_url=target,
        status=int(record.http_headers.get_statuscode() or 0),
        headers=list(record.http_headers.headers),
        body=body,
        fetched_at=parse_warc_date(warc.get_header("WARC-Date") or "1970-01-01T00:00:00Z"),
        source=source if source is not None else warc.get_header(SOURCE) or "",
        crawl_id=warc.get_header(CRAWL_ID) or "",
        hints=hints_of(warc.get_header(HINTS)),
        location=location,
    )


def _payload_length(record: ArcWarcRecord) -> int:
    """The HTTP body's length as the record declares it (block length less the headers)."""
    remaining = getattr(record.raw_stream, "limit", None)
    return int(remaining) if remaining is not None else int(record.length or 0)


class TruncatedRecord(ValueError):
    """A record's block ends before its Content-Length says (a file cut off mid-record)."""


def read_body(record: ArcWarcRecord) -> bytes:
    """The HTTP body of ``record``, de-chunked and decompressed as its headers say; raises
    TruncatedRecord when fewer bytes are there than the record declares (warcio's reader
    simply stops at the end of a cut-off file)."""
    expected = getattr(record.raw_stream, "limit", None)  # warcio's LimitReader: bytes still due
    raw = record.raw_stream.read()
    if expected is not None and len(raw) < expected:
        raise TruncatedRecord(f"{len(raw)} of {expected} bytes")
    record.raw_stream = io.BytesIO(raw)
    return record.content_stream().read()


def _is_html(record: ArcWarcRecord) -> bool:
    content_type = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
    return content_type in HTML_TYPES or not content_type


def _open(file: str) -> BinaryIO:
    if file.startswith(("http://", "https://")):
        request = urllib.request.Request(file, headers={"User-Agent": USER_AGENT})
        return urllib.request.urlopen(request, timeout=60)
    return open(file, "rb")


def read_record(file: str, offset: int, directory: Path | None = None) -> ArchivedResponse | None:
    """The response record at ``offset`` of ``file`` (a name in ``directory``, a path, or an
    http(s) URL, read with a Range request); None when it is no response record. Raises
    FileNotFoundError when the file is gone (pruned, or on another host)."""
    if file.startswith(("http://", "https://")):
        request = urllib.request.Request(
            file, headers={"User-Agent": USER_AGENT, "Range": f"bytes={offset}-"}
        )
        stream: BinaryIO = urllib.request.urlopen(request, timeout=60)
    else:
        path = Path(file)
        if not path.is_absolute() and directory is not None:
            path = directory / path
        stream = open(path, "rb")  # noqa: SIM115
        stream.seek(offset)
    with stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response" or record.http_headers is None:
                return None
            return _response(record, ArchiveLocation(file, offset), read_body(record), None)
    return None


# --- foreign WARC files (import-warc) ---


def read_html_responses(
    file: str,
    source: str | None,
    max_body_bytes: int,
    counts: ReadCounts,
    on_read: Callable[[int], None] | None = None,
) -> Iterator[ArchivedResponse]:
    """The HTML responses of one WARC file (path or http(s) URL), gzipped or not, in file
    order; everything else is skipped and counted in ``counts`` by reason: records that are
    no response, no HTTP, not HTML, truncated (``WARC-Truncated``, a body cut short, or the
    file ending mid-record), or larger than ``max_body_bytes``."""
    label = file if file.startswith(("http://", "https://")) else str(Path(file).resolve())
    raw = _open(file)
    stream: BinaryIO | ByteCounter = ByteCounter(raw, on_read) if on_read else raw
    try:
        records = ArchiveIterator(stream, check_digests="raise")
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except READ_ERRORS as exc:
                counts.skip("truncated")
                log.warning(
                    "%s: unreadable after offset %s, rest of the file skipped: %s",
                    file,
                    getattr(records, "offset", "?"),
                    exc,
                )
                return
            reason = _skip_reason(record, max_body_bytes)
            if reason:
                counts.skip(reason)
                continue
            try:
                body = read_body(record)
                offset = records.get_record_offset()
            except READ_ERRORS as exc:
                counts.skip("truncated")
                log.warning(
                    "%s: the record of %s is cut short: %s",
                    file,
                    record.rec_headers.get_header("WARC-Target-URI"),
                    exc,
                )
                continue  # the next record is read by the iterator (or fails, and ends the file)
            yield _response(record, ArchiveLocation(label, offset), body, source)
    finally:
        raw.close()


def _skip_reason(record: ArcWarcRecord, max_body_bytes: int) -> str:
    if record.rec_type != "response":
        return f"{record.rec_type} records"
    if record.http_headers is None or not record.http_headers.protocol.upper().startswith("HTTP"):
        return "not HTTP"
    if record.rec_headers.get_header("WARC-Truncated"):
        return "truncated"
    if not _is_html(record):
        return "not HTML"
    if _payload_length(record) > max_body_bytes:
        return "too large"
    return ""


# --- the archive, in fetch order (reprocess) ---


def archive_files(directory: Path) -> list[Path]:
    """Our WARC files in ``directory``, oldest first (their names start with their start time)."""
    return sorted(Path(directory).glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))


def file_started(path: Path) -> datetime:
    stamp = path.name[len(FILE_PREFIX) :].split("-", 1)[0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)


@dataclass
class ArchiveScan:
    """The response records of the archive, merged across files in fetch order.

    Each file holds its process's records in fetch order; files of processes that ran at the
    same time (several crawls, distributed crawl processes) are merged by ``WARC-Date``. A file
    is opened only once the merge reaches its start time, so few are open at once.
    """

    directory: Path
    since: datetime | None = None
    sources: frozenset[str] | None = None
    counts: ReadCounts = field(default_factory=ReadCounts)
    bytes_done: int = 0

    def files(self) -> list[Path]:
        since = self.since.timestamp() if self.since else None
        # A file last written before --since holds nothing newer.
        return [p for p in archive_files(self.directory) if since is None or p.stat().st_mtime >= since]

    @property
    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files())

    def __iter__(self) -> Iterator[ArchivedResponse]:
        files = self.files()
        heap: list[tuple[datetime, int, ArchivedResponse, Iterator[ArchivedResponse]]] = []
        opened = 0

        def push(index: int, records: Iterator[ArchivedResponse]) -> None:
            for record in records:
                heapq.heappush(heap, (record.fetched_at, index, record, records))
                return

        while True:
            while opened < len(files) and (not heap or file_started(files[opened]) <= heap[0][0]):
                push(opened, self._file_records(files[opened]))
                opened += 1
            if not heap:
                return
            _, index, record, records = heapq.heappop(heap)
            yield record
            push(index, records)

    def _file_records(self, path: Path) -> Iterator[ArchivedResponse]:
        def counted(n: int) -> None:
            self.bytes_done += n

        with open(path, "rb") as raw:
            records = ArchiveIterator(ByteCounter(raw, counted))
            while True:
                try:
                    record = next(records)
                    if record.rec_type != "response":
                        continue
                    if not self._wanted(record):
                        continue
                    body = read_body(record)
                    offset = records.get_record_offset()
                except StopIteration:
                    return
                except READ_ERRORS as exc:
                    # A crawl killed mid-record leaves a file cut short: what precedes stands.
                    self.counts.skip("unreadable")
                    log.warning(
                        "%s: unreadable after offset %s, rest of the file skipped: %s",
                        path.name,
                        getattr(records, "offset", "?"),
                        exc,
                    )
                    return
                yield _response(record, ArchiveLocation(path.name, offset), body, None)

    def _wanted(self, record: ArcWarcRecord) -> bool:
        headers = record.rec_headers
        if self.sources is not None and headers.get_header(SOURCE) not in self.sources:
            return False
        if self.since is not None:
            return parse_warc_date(headers.get_header("WARC-Date") or "1970-01-01T00:00:00Z") >= self.since
        return True
